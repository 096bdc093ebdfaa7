//! Starting the server's leader process: in a process group of its own, stdin from
//! `/dev/null`, stdout and stderr into one descriptor, in its working folder, with this
//! process's environment plus the server's few variables.
//!
//! `std::process::Command` copies the whole environment into a map, and then into C strings,
//! as soon as one variable is set, and every server sets two (`PORT` and the marker): with the
//! environment `cargo test` runs under, that copying was most of the CPU time the start of a
//! small server cost this process. On Linux with glibc the leader is started with one
//! `posix_spawnp`, as `Command` would, but with an environment that points at this process's
//! own strings and adds only the server's. Elsewhere, and in the few cases that path does not
//! take (below), `Command` does it.

use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::process::ExitStatus;

/// What the leader is started with.
pub(crate) struct Launch<'a> {
    /// The program and its arguments.
    pub(crate) words: &'a [String],
    pub(crate) cwd: &'a Path,
    /// Variables set on top of this process's environment; a later one wins over an earlier
    /// one of the same name.
    pub(crate) env: &'a [(String, String)],
    /// Where stdout and stderr go.
    pub(crate) output: BorrowedFd<'a>,
}

/// A server's leader process, from its spawn until it is reaped.
#[derive(Debug)]
pub(crate) struct Leader {
    pid: u32,
    /// Once reaped, what it ended with: a second `wait` answers it again, as `Child::wait` does.
    status: Option<ExitStatus>,
}

impl Leader {
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// Reaps the leader, waiting for its exit if need be.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        use std::os::unix::process::ExitStatusExt;

        if let Some(status) = self.status {
            return Ok(status);
        }
        let pid = libc::pid_t::try_from(self.pid).map_err(io::Error::other)?;
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child, writing its status into `status`.
            if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
                let status = ExitStatus::from_raw(status);
                self.status = Some(status);
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// A leader started some other way, for tests of what is done with one.
    #[cfg(test)]
    pub(crate) fn adopt(child: std::process::Child) -> Leader {
        Leader::new(child.id())
    }

    fn new(pid: u32) -> Leader {
        Leader { pid, status: None }
    }
}

/// Starts the leader.
///
/// # Errors
///
/// What the operating system said when the program could not be started.
pub(crate) fn spawn(launch: &Launch<'_>) -> io::Result<Leader> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Some(spawned) = direct::spawn(launch) {
        return spawned;
    }
    with_command(launch)
}

fn with_command(launch: &Launch<'_>) -> io::Result<Leader> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let (program, args) = launch
        .words
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty command line"))?;
    let child = Command::new(program)
        .args(args)
        .current_dir(launch.cwd)
        .stdin(Stdio::null())
        .stdout(launch.output.try_clone_to_owned()?)
        .stderr(launch.output.try_clone_to_owned()?)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .process_group(0)
        .spawn()?;
    // The `Child` holds no pipes of its own, and dropping it neither waits nor kills.
    Ok(Leader::new(child.id()))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod direct {
    use std::ffi::{CStr, CString, c_char, c_int};
    use std::io;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::OnceLock;

    use super::{Launch, Leader};

    type AddChdir =
        unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, *const c_char) -> c_int;

    /// `posix_spawn_file_actions_addchdir_np`, which glibc has had since 2.29: looked up
    /// rather than linked, so that the crate still builds and runs on an older one.
    fn add_chdir() -> Option<AddChdir> {
        static ADD_CHDIR: OnceLock<Option<AddChdir>> = OnceLock::new();
        *ADD_CHDIR.get_or_init(|| {
            // SAFETY: dlsym with a NUL-terminated name; the default search takes no handle.
            let symbol = unsafe {
                libc::dlsym(
                    libc::RTLD_DEFAULT,
                    c"posix_spawn_file_actions_addchdir_np".as_ptr(),
                )
            };
            // SAFETY: the symbol, where glibc has it, is a function of exactly this type.
            (!symbol.is_null())
                .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, AddChdir>(symbol) })
        })
    }

    /// `None` where `Command` must do it: a program to be found in a `PATH` that the server
    /// gets but this process does not have (`posix_spawnp` searches this process's), output
    /// on a standard descriptor (closed ones, reused), a NUL byte or an odd variable name
    /// (whose errors and meaning are `Command`'s), or a glibc older than 2.29.
    pub(super) fn spawn(launch: &Launch<'_>) -> Option<io::Result<Leader>> {
        let program = launch.words.first()?;
        let env = launch.env;
        if (!program.contains('/') && env.iter().any(|(key, _)| key == "PATH"))
            || launch.output.as_raw_fd() <= 2
            || env
                .iter()
                .any(|(key, _)| key.is_empty() || key.contains('='))
        {
            return None;
        }
        let add_chdir = add_chdir()?;
        let argv = launch
            .words
            .iter()
            .map(|word| CString::new(word.as_str()).ok())
            .collect::<Option<Vec<_>>>()?;
        let cwd = CString::new(launch.cwd.as_os_str().as_bytes()).ok()?;
        // The server's variables, each once: the last setting of a name wins.
        let ours = env
            .iter()
            .enumerate()
            .filter(|&(i, (key, _))| !env[i + 1..].iter().any(|(later, _)| later == key))
            .map(|(_, (key, value))| CString::new(format!("{key}={value}")).ok())
            .collect::<Option<Vec<_>>>()?;
        let mut envp = inherited(|key| env.iter().any(|(ours, _)| ours.as_bytes() == key));
        envp.extend(ours.iter().map(|var| var.as_ptr()));
        envp.push(std::ptr::null());
        let mut argp: Vec<*const c_char> = argv.iter().map(|arg| arg.as_ptr()).collect();
        argp.push(std::ptr::null());

        let mut actions = Actions::new().ok()?;
        let mut attributes = Attributes::new().ok()?;
        let output = launch.output.as_raw_fd();
        // SAFETY: initialized file actions and attributes, NUL-terminated strings and arrays
        // that outlive the call; posix_spawnp copies nothing it needs afterwards.
        let spawned = unsafe {
            let fa = &mut actions.0;
            check(libc::posix_spawn_file_actions_addopen(
                fa,
                0,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            ))
            .and_then(|()| check(libc::posix_spawn_file_actions_adddup2(fa, output, 1)))
            .and_then(|()| check(libc::posix_spawn_file_actions_adddup2(fa, output, 2)))
            .and_then(|()| check(add_chdir(fa, cwd.as_ptr())))
            .and_then(|()| attributes.set())
            .and_then(|()| {
                let mut pid: libc::pid_t = 0;
                check(libc::posix_spawnp(
                    &mut pid,
                    argv[0].as_ptr(),
                    &actions.0,
                    &attributes.0,
                    argp.as_ptr().cast(),
                    envp.as_ptr().cast(),
                ))
                .map(|()| pid)
            })
        };
        Some(spawned.and_then(|pid| {
            let pid = u32::try_from(pid).map_err(io::Error::other)?;
            Ok(Leader::new(pid))
        }))
    }

    /// This process's environment, as the pointers `environ` holds, but for the variables
    /// `overridden` names and entries that are not `NAME=value` (which `Command` leaves out
    /// too). A name set twice in this process's own environment, which only a program that
    /// edits `environ` by hand can do, reaches the server twice.
    fn inherited(overridden: impl Fn(&[u8]) -> bool) -> Vec<*const c_char> {
        let mut vars = Vec::with_capacity(64);
        // SAFETY: `environ` is a NULL-terminated array of NUL-terminated strings. Unlike
        // `Command`, this read cannot take std's environment lock, so it relies on what
        // `std::env::set_var` and `remove_var` require of their callers (and why they are
        // `unsafe`): that no other thread reads the environment meanwhile. glibc's
        // `posix_spawnp` reads `PATH` the same way.
        unsafe {
            let mut next = (&raw const libc::environ).read().cast_const();
            while !next.is_null() && !(*next).is_null() {
                let var = CStr::from_ptr(*next).to_bytes();
                // A name may start with `=`; it ends at the first `=` after that.
                let name = var
                    .iter()
                    .skip(1)
                    .position(|&b| b == b'=')
                    .map(|at| &var[..=at]);
                if let Some(name) = name
                    && !overridden(name)
                {
                    vars.push((*next).cast_const());
                }
                next = next.add(1);
            }
        }
        vars
    }

    fn check(code: c_int) -> io::Result<()> {
        if code == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code))
        }
    }

    struct Actions(libc::posix_spawn_file_actions_t);

    impl Actions {
        fn new() -> io::Result<Actions> {
            // SAFETY: zeroed storage, initialized by the call before any other use.
            let mut actions = Actions(unsafe { std::mem::zeroed() });
            check(unsafe { libc::posix_spawn_file_actions_init(&mut actions.0) })?;
            Ok(actions)
        }
    }

    impl Drop for Actions {
        fn drop(&mut self) {
            // SAFETY: initialized in `new`, destroyed once.
            unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
        }
    }

    struct Attributes(libc::posix_spawnattr_t);

    impl Attributes {
        fn new() -> io::Result<Attributes> {
            // SAFETY: zeroed storage, initialized by the call before any other use.
            let mut attributes = Attributes(unsafe { std::mem::zeroed() });
            check(unsafe { libc::posix_spawnattr_init(&mut attributes.0) })?;
            Ok(attributes)
        }

        /// A process group of its own, and SIGPIPE back to its default (the Rust runtime
        /// ignores it, and an ignored signal stays ignored across exec); the signal mask is the
        /// spawning thread's: as `Command` starts a process.
        fn set(&mut self) -> io::Result<()> {
            let flags = libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGDEF;
            // SAFETY: initialized attributes and signal set.
            unsafe {
                let mut signals: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut signals);
                libc::sigaddset(&mut signals, libc::SIGPIPE);
                check(libc::posix_spawnattr_setsigdefault(&mut self.0, &signals))?;
                check(libc::posix_spawnattr_setpgroup(&mut self.0, 0))?;
                // The flags are small constants.
                check(libc::posix_spawnattr_setflags(
                    &mut self.0,
                    flags as libc::c_short,
                ))
            }
        }
    }

    impl Drop for Attributes {
        fn drop(&mut self) {
            // SAFETY: initialized in `new`, destroyed once.
            unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;

    use super::{Launch, direct};

    fn words(line: &[&str]) -> Vec<String> {
        line.iter().map(|word| word.to_string()).collect()
    }

    fn null() -> OwnedFd {
        std::fs::File::create("/dev/null").unwrap().into()
    }

    /// What `direct::spawn` makes of a launch: `None` where it leaves it to `Command`, else
    /// the exit code of the reaped process.
    fn direct(words: &[String], env: &[(String, String)], output: &OwnedFd) -> Option<i32> {
        let launch = Launch {
            words,
            cwd: Path::new("/"),
            env,
            output: output.as_fd(),
        };
        let mut leader = direct::spawn(&launch)?.unwrap();
        let status = leader.wait().unwrap();
        // Reaped once; asked again, it answers the same.
        assert_eq!(leader.wait().unwrap(), status);
        status.code()
    }

    fn var(key: &str, value: &str) -> (String, String) {
        (key.to_string(), value.to_string())
    }

    #[test]
    fn a_plain_launch_is_spawned_directly_with_its_variables() {
        let test = words(&["sh", "-c", r#"test "$KEY" = value && test "$PWD" = /"#]);
        assert_eq!(direct(&test, &[var("KEY", "value")], &null()), Some(0));
        assert_eq!(direct(&test, &[var("KEY", "other")], &null()), Some(1));
    }

    #[test]
    fn what_only_command_does_as_command_does_is_left_to_it() {
        let output = null();
        let plain = words(&["true"]);
        // A bare name and a PATH of the server's own: looked up in that PATH.
        assert_eq!(direct(&plain, &[var("PATH", "/nowhere")], &output), None);
        // ... but a path needs no lookup.
        let path = words(&["/bin/true"]);
        assert_eq!(direct(&path, &[var("PATH", "/nowhere")], &output), Some(0));
        // Names and values that C strings cannot carry, and odd names: Command's errors.
        assert_eq!(direct(&words(&["true", "a\0b"]), &[], &output), None);
        assert_eq!(direct(&plain, &[var("A=B", "c")], &output), None);
        assert_eq!(direct(&plain, &[var("", "c")], &output), None);
        // Output on a standard descriptor, which a closed stdout or stderr leaves to a pipe.
        let stdin = std::io::stdin();
        let launch = Launch {
            words: &plain,
            cwd: Path::new("/"),
            env: &[],
            output: stdin.as_fd(),
        };
        assert!(direct::spawn(&launch).is_none());
    }
}
