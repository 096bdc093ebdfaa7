//! Ports: a picked port is leased so no other server of this process or of another process
//! using with-server picks it too; a fixed port is held by one server at a time, across
//! processes (cargo-nextest runs every test in a process of its own).
//!
//! Both use one lock file a port: `flock` locks belong to an open file description, so two
//! leases of the same port conflict whether they come from two processes or two threads.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// A port held for one server until the lease is dropped.
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
    _lock: File,
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A free port: one the kernel hands out for `host`, that no other lease holds.
    pub(crate) fn pick(host: IpAddr) -> io::Result<PortLease> {
        let mut last_err = None;
        for _ in 0..64 {
            let port = TcpListener::bind((host, 0))?.local_addr()?.port();
            let lock = lock_file(port)?;
            match lock.try_lock() {
                Ok(()) => return Ok(PortLease { port, _lock: lock }),
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(err)) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free port after 64 tries")))
    }

    /// The fixed `port`, waiting while another server holds it.
    pub(crate) fn fixed(port: u16) -> io::Result<PortLease> {
        let lock = lock_file(port)?;
        lock.lock()?;
        Ok(PortLease { port, _lock: lock })
    }
}

fn lock_file(port: u16) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir()?.join(format!("port-{port}.lock")))
}

/// This user's folder for port locks and the logs of kept servers.
pub(crate) fn state_dir() -> io::Result<&'static PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        // One folder a user: a folder another user created would not let us create files.
        // tmpfs where there is one: creating a lock file there costs microseconds, on a disk
        // a tenth of a millisecond, and a new port means a new file.
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("with-server-{}", user_id()));
        std::fs::create_dir_all(&dir)
            .map(|()| dir.clone())
            .map_err(|err| format!("cannot create the folder {}: {err}", dir.display()))
    });
    dir.as_ref().map_err(|err| io::Error::other(err.clone()))
}

#[cfg(unix)]
fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

/// Whether something accepts connections on `addr` right now.
pub(crate) fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Whether another process holds `addr` (binding it fails with "address in use").
pub(crate) fn taken(addr: SocketAddr) -> bool {
    matches!(TcpListener::bind(addr), Err(err) if err.kind() == io::ErrorKind::AddrInUse)
}
