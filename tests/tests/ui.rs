//! Compile-fail tests of `#[with_server]`: each case in `ui/` holds one mistake, and its
//! `.stderr` holds the message the user sees.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
