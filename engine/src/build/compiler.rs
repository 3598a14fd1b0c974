//! Running cargo on code nobody has reviewed: resource limits, a wall-time limit, a clean
//! environment, and telling which limit a failed build broke.
//!
//! Why it is its own file: a single-file strategy is compiled from an author's source, and a
//! compiler can be made to spin, allocate or write without bound (deep const evaluation, huge
//! arrays, recursive macros). Every process cargo starts therefore runs under
//! [`CompilerLimits`] (util-linux `prlimit`), in its own process group so a timeout kills the
//! compilers too, with the host's compiler settings in the environment (`RUSTFLAGS`, wrappers,
//! `CARGO_PROFILE_*`, …) removed so they cannot change what is built ([`STRATEGY_RUSTFLAGS`] are
//! the only flags; cargo's configuration files are the operator's, as for any cargo). The
//! single-file builder ([`super::single_file`]) decides what to run; this file only runs it
//! safely.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::BuildError;
pub use crate::scaffold::STRATEGY_RUSTFLAGS;

/// Resource limits on cargo and every process it starts (rustc, linker), applied per process
/// with util-linux `prlimit` (Linux only; elsewhere builds run without them). A build that
/// breaks one is refused with [`BuildError::OverLimit`] naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompilerLimits {
    /// Virtual address space of each process, in bytes (`RLIMIT_AS`; default 4 GiB).
    pub address_space_bytes: u64,
    /// CPU time of each process, in seconds (`RLIMIT_CPU`; default 300 s). The soft limit sends
    /// SIGXCPU, a hard limit one second later SIGKILL.
    pub cpu_seconds: u64,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`; default 1 GiB).
    pub file_size_bytes: u64,
    /// Processes and threads of the building user (`RLIMIT_NPROC`; default 4096; the kernel
    /// does not apply it to root).
    pub processes: u64,
}

impl Default for CompilerLimits {
    fn default() -> Self {
        Self { address_space_bytes: 4 << 30, cpu_seconds: 300, file_size_bytes: 1 << 30, processes: 4096 }
    }
}

/// Finds `program` on `$PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A cargo command in `dir`, under `limits` (through `prlimit` on Linux), with the build
/// environment cleared of flags and wrappers.
pub(super) fn cargo_command(dir: &Path, limits: &CompilerLimits) -> Result<Command, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = if cfg!(target_os = "linux") {
        let prlimit = on_path("prlimit").ok_or_else(|| {
            BuildError::Spawn(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "prlimit (util-linux) is not on PATH; it is needed to limit the compiler's resources",
            ))
        })?;
        let mut command = Command::new(prlimit);
        command
            .arg(format!("--as={}", limits.address_space_bytes))
            .arg(format!("--cpu={}:{}", limits.cpu_seconds, limits.cpu_seconds.saturating_add(1)))
            .arg(format!("--fsize={}", limits.file_size_bytes))
            .arg(format!("--nproc={}", limits.processes))
            .arg("--")
            .arg(cargo);
        command
    } else {
        Command::new(cargo)
    };
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(host_setting) {
            command.env_remove(&name);
        }
    }
    command
        .current_dir(dir)
        // (The highest-precedence source of flags: no config file or variable can add to it.)
        .env("CARGO_ENCODED_RUSTFLAGS", STRATEGY_RUSTFLAGS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout kills the compilers cargo started too.
        command.process_group(0);
    }
    Ok(command)
}

/// Whether the host's environment variable `name` could change what cargo builds: the compiler
/// and its wrappers (`RUSTC`, `RUSTC_WRAPPER`, …), every flag variable, and every `CARGO_*`
/// setting (profiles, build and target settings: `CARGO_PROFILE_RELEASE_OPT_LEVEL`,
/// `CARGO_BUILD_RUSTC_WRAPPER`, `CARGO_TARGET_<triple>_RUSTFLAGS`, …) except where cargo lives
/// and how it reaches the network (`CARGO_HOME`, `CARGO_HTTP_*`, `CARGO_NET_*`,
/// `CARGO_REGISTRIES_*`, `CARGO_REGISTRY_*`: the Prop AMM form's `cargo fetch` needs them) and
/// its terminal output. Such variables are removed from every cargo command here.
fn host_setting(name: &str) -> bool {
    const KEPT: &[&str] =
        &["CARGO_HOME", "CARGO_HTTP_", "CARGO_NET_", "CARGO_REGISTRIES_", "CARGO_REGISTRY_", "CARGO_TERM_"];
    let compiler = name.starts_with("RUSTC") || name.starts_with("RUSTFLAGS") || name.starts_with("RUSTDOC");
    let cargo = name.starts_with("CARGO_") && !KEPT.iter().any(|kept| name.starts_with(kept));
    compiler || cargo
}

/// What a finished cargo run left.
pub(super) struct Finished {
    /// How cargo ended.
    pub(super) status: std::process::ExitStatus,
    /// Its standard output (JSON messages).
    pub(super) stdout: String,
    /// Its standard error.
    pub(super) stderr: String,
}

/// Runs `command`, killed (with its process group) once `timeout` has passed since `started`.
pub(super) fn run_limited(
    mut command: Command,
    user_path: &Path,
    started: Instant,
    timeout: Duration,
) -> Result<Finished, BuildError> {
    let mut child = command.spawn().map_err(BuildError::Spawn)?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait().map_err(BuildError::Spawn)? {
            Some(status) => break status,
            None if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(BuildError::TimedOut { path: user_path.to_path_buf(), seconds: timeout.as_secs_f64() });
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ok(Finished { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() })
}

/// The [`CompilerLimits`] a failed build broke, named with its value, judged from how cargo
/// or a compiler ended (SIGXCPU / SIGKILL after the CPU limit, SIGXFSZ, an allocation failure).
pub(super) fn broken_limit(finished: &Finished, limits: &CompilerLimits) -> Option<String> {
    let text = &finished.stderr;
    #[cfg(unix)]
    let own_signal = {
        use std::os::unix::process::ExitStatusExt;
        finished.status.signal()
    };
    #[cfg(not(unix))]
    let own_signal: Option<i32> = None;
    // Cargo reports a compiler's signal as "(signal: 24)" or "(signal: 24, SIGXCPU: …)".
    let signalled = |number: i32| {
        own_signal == Some(number)
            || text.contains(&format!("(signal: {number})"))
            || text.contains(&format!("(signal: {number},"))
    };
    if signalled(24) || signalled(9) {
        return Some(format!("the CPU-time limit of {} s per compiler process", limits.cpu_seconds));
    }
    if signalled(25) || text.contains("File too large") {
        return Some(format!("the file-size limit of {} bytes per file written", limits.file_size_bytes));
    }
    if text.contains("memory allocation of")
        || text.contains("out of memory")
        || text.contains("Cannot allocate memory")
    {
        return Some(format!("the address-space limit of {} bytes per compiler process", limits.address_space_bytes));
    }
    if text.contains("Resource temporarily unavailable") {
        return Some(format!("the process limit of {} processes", limits.processes));
    }
    None
}

/// Kills `child` and, on Unix, every process of its group (the compilers cargo started).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
    }
    let _ = child.kill();
}
