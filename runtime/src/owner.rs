//! Whose socket answered: on Linux, the listening socket on the server's port must be held by
//! the server or one of its descendants, so readiness is never satisfied by somebody else's
//! server (one that grabbed the port after the checks before the start).

use std::collections::HashSet;
use std::net::SocketAddr;

/// Whether the socket listening on `addr` is held by `leader` or a descendant. `None` when that
/// cannot be told: no listener is visible (another network namespace), it belongs to another
/// user, or there is no netlink or `/proc`.
#[cfg(target_os = "linux")]
pub(crate) fn tree_listens(leader: u32, addr: SocketAddr) -> Option<bool> {
    match listener(addr) {
        Ok(Some(listener)) => tree_holds(leader, listener),
        _ => None,
    }
}

/// Whether `listener` is held by `leader` or a descendant; `None` when that cannot be told.
#[cfg(target_os = "linux")]
pub(crate) fn tree_holds(leader: u32, listener: Listener) -> Option<bool> {
    // A listener of another user cannot be traced to a process here (its descriptors are not
    // ours to read): `docker-proxy`, say, listening for a container the server started.
    if listener.uid != crate::port::user_id() {
        return None;
    }
    let inode = listener.inode;
    // Fast path: servers open their listener early, so it is one of the first descriptors.
    if (3..8).any(|fd| socket_inode(format!("/proc/{leader}/fd/{fd}")) == Some(inode)) {
        return Some(true);
    }
    let mut pending = vec![leader];
    let mut seen = HashSet::new();
    while let Some(pid) = pending.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if holds(pid, inode) {
            return Some(true);
        }
        pending.extend(children(pid));
    }
    Some(false)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn tree_listens(_leader: u32, _addr: SocketAddr) -> Option<bool> {
    None
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn tree_holds(_leader: u32, _listener: Listener) -> Option<bool> {
    None
}

/// Elsewhere the kernel is not asked.
#[cfg(not(target_os = "linux"))]
pub(crate) fn listener(_addr: SocketAddr) -> std::io::Result<Option<Listener>> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// A socket in LISTEN state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listener {
    pub(crate) inode: u64,
    pub(crate) uid: u32,
}

/// The listener a TCP connection to `addr` would reach right now (a wildcard or dual-stack one
/// included), or `None`. One `sock_diag` netlink request for exactly that address: the kernel
/// runs the lookup a connection would, which costs a few microseconds, where a connect costs
/// three times that and reading `/proc/net/tcp` milliseconds.
///
/// # Errors
///
/// When the kernel cannot be asked (no netlink in a locked-down sandbox, no `inet_diag`).
#[cfg(target_os = "linux")]
pub(crate) fn listener(addr: SocketAddr) -> std::io::Result<Option<Listener>> {
    // A connection to the unspecified address goes to loopback, and so must the question: asked
    // as is, the kernel would match wildcard listeners only.
    let addr = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    };
    let socket = netlink()?
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    lookup(&socket, addr)
}

/// One lookup on `socket`; the answer is read before the caller lets go of the socket.
#[cfg(target_os = "linux")]
fn lookup(socket: &std::fs::File, addr: SocketAddr) -> std::io::Result<Option<Listener>> {
    use std::io::{Error, ErrorKind, Read, Write};
    use std::sync::atomic::{AtomicU32, Ordering};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    const TCP_LISTEN: u8 = 10;
    const HEADER: usize = 16;
    const REQUEST: usize = HEADER + 56;
    static SEQUENCE: AtomicU32 = AtomicU32::new(1);

    let (family, ip) = match addr {
        SocketAddr::V4(v4) => {
            let mut ip = [0; 16];
            ip[..4].copy_from_slice(&v4.ip().octets());
            (libc::AF_INET, ip)
        }
        SocketAddr::V6(v6) => (libc::AF_INET6, v6.ip().octets()),
    };
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    // nlmsghdr: length, type, flags, sequence, port id (0: the kernel's).
    let mut request = [0u8; REQUEST];
    request[0..4].copy_from_slice(&(REQUEST as u32).to_ne_bytes());
    request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, extensions, padding, states, then the socket id:
    // source port and address (the server's side), destination port and address (none, so
    // only a listener matches), interface, and the "no cookie" cookie.
    let req = &mut request[HEADER..];
    req[0] = family as u8;
    req[1] = libc::IPPROTO_TCP as u8;
    req[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req[8..10].copy_from_slice(&addr.port().to_be_bytes());
    req[12..28].copy_from_slice(&ip);
    req[48..56].fill(0xff);

    (&*socket).write_all(&request)?;
    let mut answer = [0u8; 512];
    loop {
        let len = (&*socket).read(&mut answer)?;
        let field = |at: usize| {
            answer[..len]
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        let kind = answer[..len]
            .get(4..6)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]));
        // An answer to an earlier request that gave up half way is skipped.
        if field(8) != Some(sequence) {
            continue;
        }
        if kind == Some(NLMSG_ERROR) {
            // nlmsgerr: a negative errno; ENOENT is "nothing listens there".
            return match field(HEADER).map(|code| -(code as i32)) {
                Some(libc::ENOENT) => Ok(None),
                Some(code) => Err(Error::from_raw_os_error(code)),
                None => Err(ErrorKind::InvalidData.into()),
            };
        }
        // inet_diag_msg: family, state, timer, retransmits, the socket id (48 bytes),
        // expires, read queue, write queue, uid (offset 64), inode (offset 68).
        let msg = HEADER;
        return match (answer.get(msg + 1), field(msg + 64), field(msg + 68)) {
            (Some(&TCP_LISTEN), Some(uid), Some(inode)) => Ok(Some(Listener {
                inode: u64::from(inode),
                uid,
            })),
            (Some(_), Some(_), Some(_)) => Ok(None),
            _ => Err(ErrorKind::InvalidData.into()),
        };
    }
}

#[cfg(target_os = "linux")]
fn holds(pid: u32, inode: u64) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| socket_inode(fd.path()) == Some(inode))
}

/// The inode of the socket a `/proc/PID/fd/N` link points to.
#[cfg(target_os = "linux")]
fn socket_inode(link: impl AsRef<std::path::Path>) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(target_os = "linux")]
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// This process's `sock_diag` netlink socket.
#[cfg(target_os = "linux")]
fn netlink() -> std::io::Result<&'static std::sync::Mutex<std::fs::File>> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::{Mutex, OnceLock};

    static SOCKET: OnceLock<Result<Mutex<std::fs::File>, std::io::ErrorKind>> = OnceLock::new();
    let socket = SOCKET.get_or_init(|| {
        // SAFETY: plain socket(2); the descriptor is owned right below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().kind());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // The kernel answers every request at once; the timeout only keeps a lost answer
        // from hanging a start.
        let timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of the size given.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        let socket = std::fs::File::from(fd);
        // A kernel without TCP support in `sock_diag` answers "no such socket" to every
        // question, which would read as "nothing listens" everywhere: it must find a listener
        // opened for the purpose, or it is not asked at all.
        let probe = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .and_then(|probe| probe.local_addr().map(|addr| (probe, addr)));
        match probe.map(|(_probe, addr)| lookup(&socket, addr)) {
            Ok(Ok(Some(_))) => Ok(Mutex::new(socket)),
            _ => Err(std::io::ErrorKind::Unsupported),
        }
    });
    socket.as_ref().map_err(|&kind| std::io::Error::from(kind))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, TcpListener};
    use std::os::fd::AsRawFd;

    use super::*;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    fn inode_of(socket: &TcpListener) -> u64 {
        socket_inode(format!("/proc/self/fd/{}", socket.as_raw_fd())).unwrap()
    }

    /// Asserts that a connection to `addr` reaches `socket`, and that the kernel says so.
    fn assert_reaches(addr: SocketAddr, socket: &TcpListener) {
        assert!(std::net::TcpStream::connect(addr).is_ok(), "{addr}");
        let found = listener(addr).unwrap().map(|l| l.inode);
        assert_eq!(found, Some(inode_of(socket)), "{addr}");
    }

    #[test]
    fn the_kernel_shows_the_listener_a_connection_would_reach() {
        let socket = TcpListener::bind(loopback(0)).unwrap();
        let addr = socket.local_addr().unwrap();
        let inode = inode_of(&socket);
        assert_eq!(
            listener(addr).unwrap(),
            Some(Listener {
                inode,
                uid: crate::port::user_id()
            })
        );
        drop(socket);
        // A process that another test thread is starting holds a copy of the socket until it
        // execs, so the listener may outlive the drop for a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while listener(addr).unwrap().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the kernel still shows a listener on {addr}"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_wildcard_listener_is_the_one_a_loopback_connection_reaches() {
        let socket = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        assert_reaches(loopback(socket.local_addr().unwrap().port()), &socket);
    }

    #[test]
    fn a_question_about_the_unspecified_address_is_about_loopback() {
        // A connection to 0.0.0.0 reaches a listener on 127.0.0.1.
        let socket = TcpListener::bind(loopback(0)).unwrap();
        let port = socket.local_addr().unwrap().port();
        assert_reaches(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), &socket);
    }

    #[test]
    fn a_dual_stack_listener_answers_for_ipv4() {
        // Without IPv6 on this machine there is nothing to check.
        let Ok(socket) = TcpListener::bind("[::]:0") else {
            return;
        };
        assert_reaches(loopback(socket.local_addr().unwrap().port()), &socket);
    }

    #[test]
    fn a_listener_is_told_apart_by_the_process_tree_that_holds_it() {
        let socket = TcpListener::bind(loopback(0)).unwrap();
        let found = listener(socket.local_addr().unwrap()).unwrap().unwrap();
        assert_eq!(tree_holds(std::process::id(), found), Some(true));
        let mut other = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        assert_eq!(tree_holds(other.id(), found), Some(false));
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
