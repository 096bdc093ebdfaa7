//! Ports: a picked port is leased so no other server of this process or of another process
//! using with-server picks it too; a fixed port is held by one server at a time, across
//! processes (cargo-nextest runs every test in a process of its own).
//!
//! Both use one lock file a port: `flock` locks belong to an open file description, so two
//! leases of the same port conflict whether they come from two processes or two threads.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// A port held for one server until the lease is dropped.
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
    _lock: File,
    fixed: bool,
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A free port for `host` that no other lease holds.
    ///
    /// The check that the port is free asks the kernel whether anything listens on it (a
    /// connect where it cannot ask), never a bind: a socket bound for a check, however
    /// briefly, is copied into any child another thread forks at that moment, and stays bound
    /// until that child execs, long enough for a server starting on the port to fail. Below
    /// the ephemeral range nothing binds a port unless it asks for that very port, and such a
    /// holder nearly always listens, which the check sees.
    pub(crate) fn pick(host: IpAddr) -> io::Result<PortLease> {
        let mut last_err = None;
        for _ in 0..64 {
            let Some(port) = candidate() else {
                break;
            };
            let lock = lock_file(port)?;
            match lock.try_lock() {
                Ok(()) if !listened_on(SocketAddr::new(host, port)) => {
                    return Ok(PortLease {
                        port,
                        _lock: lock,
                        fixed: false,
                    });
                }
                Ok(()) | Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(err)) => last_err = Some(err),
            }
        }
        // No room below the ephemeral range: the kernel's pick, leased after the fact.
        for _ in 0..64 {
            let port = bind(SocketAddr::new(host, 0))?.port();
            let lock = lock_file(port)?;
            match lock.try_lock() {
                Ok(()) => {
                    return Ok(PortLease {
                        port,
                        _lock: lock,
                        fixed: false,
                    });
                }
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(err)) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free port after 128 tries")))
    }

    /// The fixed `port`, waiting while another server holds it, until `until`.
    ///
    /// A server of this very thread that holds the port (two servers of one test on one fixed
    /// port) would be waited for forever, so that is an error at once.
    pub(crate) fn fixed(port: u16, until: Instant) -> Result<PortLease, FixedPortError> {
        let lock = lock_file(port).map_err(FixedPortError::Io)?;
        let mut pause = Duration::from_millis(1);
        loop {
            match lock.try_lock() {
                Ok(()) => {
                    holders().insert(port, std::thread::current().id());
                    return Ok(PortLease {
                        port,
                        _lock: lock,
                        fixed: true,
                    });
                }
                Err(TryLockError::Error(err)) => return Err(FixedPortError::Io(err)),
                Err(TryLockError::WouldBlock) => {}
            }
            if holders().get(&port) == Some(&std::thread::current().id()) {
                return Err(FixedPortError::HeldByThisThread);
            }
            let now = Instant::now();
            if now >= until {
                return Err(FixedPortError::StillHeld);
            }
            std::thread::sleep(pause.min(until - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if self.fixed {
            holders().remove(&self.port);
        }
    }
}

/// Why a fixed port could not be had.
#[derive(Debug)]
pub(crate) enum FixedPortError {
    /// Another server of the same thread (the same test) holds it.
    HeldByThisThread,
    /// Another server (of another test or process) held it until the deadline.
    StillHeld,
    Io(io::Error),
}

/// The fixed ports held by servers of this process, and the thread that started each.
fn holders() -> MutexGuard<'static, HashMap<u16, ThreadId>> {
    static HOLDERS: OnceLock<Mutex<HashMap<u16, ThreadId>>> = OnceLock::new();
    HOLDERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
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
        private_dir(&dir)
            .map_err(|err| format!("cannot use the folder {}: {err}", dir.display()))?;
        Ok(dir)
    });
    dir.as_ref().map_err(|err| io::Error::other(err.clone()))
}

/// Creates `dir` for this user only, or checks that the one there is this user's own, private,
/// real folder: another user who made it first could otherwise plant lock files, links, or a
/// guard file naming process groups for the watchdog to kill.
fn private_dir(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};

    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != user_id() {
        return Err(io::Error::other(
            "it is not a folder of this user's (another user's, or a link); remove it",
        ));
    }
    if meta.mode() & 0o077 != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(unix)]
pub(crate) fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

/// Whether something accepts connections on `addr` right now.
pub(crate) fn answers(addr: SocketAddr) -> bool {
    connect(addr, Duration::from_millis(200)).is_ok()
}

/// Whether a connection to `addr` would reach a listener; asked of the kernel where it can be,
/// which is cheaper than a connect.
fn listened_on(addr: SocketAddr) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(listener) = crate::owner::listener(addr) {
        return listener.is_some();
    }
    answers(addr)
}

/// Always with a timeout, also on loopback: a server that listens but does not accept yet
/// fills its backlog, and then the kernel drops new connection attempts and retries them for
/// minutes.
pub(crate) fn connect(addr: SocketAddr, limit: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr, limit)
}

/// A random port below the kernel's ephemeral range, or `None` when there is no room there.
///
/// Every outgoing connection (a probe, a request of the test) is bound to a port of the
/// ephemeral range, which is also where the kernel's own pick (port 0) comes from: such a
/// connection could take the port between the pick and the server's bind. Below the range, only
/// a process that binds that very port can.
fn candidate() -> Option<u16> {
    let low = ephemeral_low();
    // Above the ports that services usually claim, below the ephemeral range.
    let first = (low / 2).max(10_000);
    let span = low.checked_sub(first).filter(|&span| span > 1_000)?;
    Some(first + (random() % u64::from(span)) as u16)
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_low() -> u16 {
    static LOW: OnceLock<u16> = OnceLock::new();
    *LOW.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|range| range.split_whitespace().next()?.parse().ok())
            // The IANA range, which macOS and the BSDs use.
            .unwrap_or(49_152)
    })
}

/// A random number, from the standard library's randomly seeded hasher.
fn random() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = SEED.get_or_init(RandomState::new).build_hasher();
    hasher.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Binds a TCP socket to `addr` and closes it again, returning the address it got. It never
/// listens: `TcpListener::bind` would, and for that moment a probe of another server that is
/// still starting on this port would connect to it and take it for that server.
fn bind(addr: SocketAddr) -> io::Result<SocketAddr> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let (family, raw, len) = sockaddr(addr);
    // SAFETY: plain socket(2); the descriptor is owned right below.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns; closed when dropped.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `raw` holds a valid sockaddr of `len` bytes for this family.
    if unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&raw as *const libc::sockaddr_storage).cast(),
            len,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a zeroed sockaddr_storage is valid; getsockname writes at most `len` bytes.
    let mut bound: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut bound_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `bound` has room for any socket address.
    if unsafe {
        libc::getsockname(
            socket.as_raw_fd(),
            (&mut bound as *mut libc::sockaddr_storage).cast(),
            &mut bound_len,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // sin_port and sin6_port sit at the same offset, in network byte order.
    // SAFETY: `bound` was filled as a sockaddr_in or sockaddr_in6, both start with this layout.
    let port = u16::from_be(unsafe {
        (*(&bound as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()).sin_port
    });
    Ok(SocketAddr::new(addr.ip(), port))
}

/// `addr` as a C socket address.
fn sockaddr(addr: SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: a zeroed sockaddr_storage is valid, and large enough for either family.
    let mut raw: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut raw as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            (
                libc::AF_INET,
                raw,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut raw as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_scope_id = v6.scope_id();
            (
                libc::AF_INET6,
                raw,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}
