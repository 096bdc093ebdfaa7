//! placeholder
use proc_macro::TokenStream;
#[proc_macro_attribute]
pub fn with_server(_args: TokenStream, item: TokenStream) -> TokenStream { item }
