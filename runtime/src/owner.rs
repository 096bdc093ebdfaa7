//! Whose socket answered: on Linux, the listening socket on the server's port must be held by
//! the server or one of its descendants, so readiness is never satisfied by somebody else's
//! server (one that grabbed the port after the checks before the start).

use std::collections::HashSet;
use std::net::SocketAddr;

/// Whether a socket listening on `addr`'s port is held by `leader` or a descendant. `None` when
/// that cannot be told: no listener on the port is visible (another network namespace), or no
/// `/proc`.
#[cfg(target_os = "linux")]
pub(crate) fn tree_listens(leader: u32, addr: SocketAddr) -> Option<bool> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() || inodes.contains(&0) {
        return None;
    }
    // Fast path: servers open their listener early, so it is one of the first descriptors.
    if (3..8).any(|fd| {
        socket_inode(format!("/proc/{leader}/fd/{fd}")).is_some_and(|i| inodes.contains(&i))
    }) {
        return Some(true);
    }
    let mut pending = vec![leader];
    let mut seen = HashSet::new();
    while let Some(pid) = pending.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if holds_any(pid, &inodes) {
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

/// The inodes of sockets in LISTEN state on `port`, IPv4 and IPv6, asked of the kernel with a
/// `sock_diag` netlink dump of listening sockets only: reading `/proc/net/tcp` instead walks
/// every socket hash bucket and costs milliseconds, whatever the number of sockets.
#[cfg(target_os = "linux")]
fn listening_inodes(addr: SocketAddr) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    // The probe's own family first; a dual-stack listener on `[::]` shows in the other.
    let families = if addr.is_ipv4() {
        [libc::AF_INET, libc::AF_INET6]
    } else {
        [libc::AF_INET6, libc::AF_INET]
    };
    for family in families {
        // Without netlink (a locked-down sandbox) the check is skipped, not failed.
        let _ = dump_listeners(family, addr.port(), &mut inodes);
        if !inodes.is_empty() {
            break;
        }
    }
    inodes
}

#[cfg(target_os = "linux")]
fn dump_listeners(
    family: libc::c_int,
    port: u16,
    inodes: &mut HashSet<u64>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const TCP_LISTEN: u32 = 10;
    const HEADER: usize = 16;

    // One socket for the process; a dump is read whole before the lock is let go.
    let socket = netlink()?
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());

    // nlmsghdr, then inet_diag_req_v2: family, protocol, ext, pad, states, and a zeroed
    // inet_diag_sockid (48 bytes), which a dump ignores.
    let mut request = Vec::with_capacity(HEADER + 56);
    request.extend_from_slice(&((HEADER + 56) as u32).to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    request.extend_from_slice(&flags.to_ne_bytes());
    static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    request.extend_from_slice(&sequence.to_ne_bytes());
    request.extend_from_slice(&[0; 4]); // port id: the kernel's
    request.extend_from_slice(&[family as u8, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    request.extend_from_slice(&[0; 48]);
    (&*socket).write_all(&request)?;

    let mut buf = vec![0u8; 32 << 10];
    loop {
        let len = (&*socket).read(&mut buf)?;
        let mut at = 0;
        while at + HEADER <= len {
            let field = |from: usize| buf.get(from..from + 4).and_then(|b| b.try_into().ok());
            let Some(size) = field(at).map(u32::from_ne_bytes) else {
                return Ok(());
            };
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            if size < HEADER as u32 {
                return Ok(());
            }
            // What is left of an earlier dump that failed half way is skipped.
            if field(at + 8).map(u32::from_ne_bytes) != Some(sequence) {
                at += (size as usize + 3) & !3;
                continue;
            }
            if kind == NLMSG_DONE || kind == NLMSG_ERROR {
                return Ok(());
            }
            // inet_diag_msg: 4 bytes, then the socket id whose first field is the source port
            // (big endian), ...; the inode is at offset 68.
            let msg = at + HEADER;
            let sport = buf
                .get(msg + 4..msg + 6)
                .map(|b| u16::from_be_bytes([b[0], b[1]]));
            if sport == Some(port)
                && let Some(inode) = field(msg + 68).map(u32::from_ne_bytes)
            {
                // A listener of another user cannot be traced to a process here (its
                // descriptors are not ours to read): `docker-proxy`, say, listening for a
                // container the server started. Zero stands for "cannot tell".
                let uid = field(msg + 64).map(u32::from_ne_bytes);
                let inode = if uid == Some(crate::port::user_id()) {
                    u64::from(inode)
                } else {
                    0
                };
                inodes.insert(inode);
            }
            at += (size as usize + 3) & !3;
        }
        if len == 0 {
            return Ok(());
        }
    }
}

#[cfg(target_os = "linux")]
fn holds_any(pid: u32, inodes: &HashSet<u64>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| socket_inode(fd.path()).is_some_and(|inode| inodes.contains(&inode)))
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
        Ok(Mutex::new(std::fs::File::from(fd)))
    });
    socket.as_ref().map_err(|&kind| std::io::Error::from(kind))
}
