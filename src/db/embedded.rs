//! The private PostgreSQL that the app runs when `DATABASE_URL` is unset: a cluster
//! under the data directory, on a Unix socket only, started and stopped with the app.

// Signals, the parent-death signal and the effective uid need libc; each unsafe
// block below is a plain syscall wrapper with no pointers handed over.
#![allow(unsafe_code)]

use std::{
    fs,
    io::{BufReader, Read, Seek, SeekFrom},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use diesel::{Connection, PgConnection, RunQueryDsl, sql_query};

/// Where the server runs as root: the `postgres` user cannot enter most home
/// directories, so its files live here, keyed by the data directory they serve.
const ROOT_CLUSTER_BASE: &str = "/var/lib/contactbook";
const PORT: u16 = 5432;

#[derive(Debug)]
pub struct EmbeddedError(pub String);

impl std::fmt::Display for EmbeddedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmbeddedError {}

fn err(msg: impl Into<String>) -> EmbeddedError {
    EmbeddedError(msg.into())
}

/// A running (or adopted) private PostgreSQL server.
pub struct EmbeddedPostgres {
    socket_dir: PathBuf,
    /// Present when this process started the server and must stop it. In a
    /// mutex so the handle can live in a static (the test harness keeps one).
    keeper: Mutex<Option<Keeper>>,
}

struct Keeper {
    stop_tx: mpsc::Sender<()>,
    done_rx: mpsc::Receiver<()>,
}

/// The user the server process runs as, when it is not us.
#[derive(Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Creates the cluster on first use, then starts it; adopts a server that is
    /// already running on the same cluster (another instance or a `seed-demo` run).
    pub fn start(data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let bin = find_bin_dir().ok_or_else(|| {
            err("PostgreSQL is not installed: install it (Debian: apt-get install postgresql) or set DATABASE_URL to an existing database")
        })?;
        fs::create_dir_all(data_dir).map_err(|e| {
            err(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let data_dir = fs::canonicalize(data_dir)
            .map_err(|e| err(format!("cannot resolve {}: {e}", data_dir.display())))?;

        let run_as = if is_root() {
            Some(postgres_user().ok_or_else(|| {
                err("running as root needs the `postgres` system user to run PostgreSQL (it comes with Debian's postgresql package)")
            })?)
        } else {
            None
        };
        let base = match run_as {
            Some(user) => {
                let base = Path::new(ROOT_CLUSTER_BASE).join(format!(
                    "{:016x}",
                    crate::cache::fnv1a(data_dir.as_os_str().as_encoded_bytes().iter().copied())
                ));
                fs::create_dir_all(&base)
                    .map_err(|e| err(format!("cannot create {}: {e}", base.display())))?;
                std::os::unix::fs::chown(&base, Some(user.uid), Some(user.gid))
                    .map_err(|e| err(format!("cannot hand {} to postgres: {e}", base.display())))?;
                fs::set_permissions(&base, fs::Permissions::from_mode(0o700))
                    .map_err(|e| err(format!("cannot protect {}: {e}", base.display())))?;
                // Leave a pointer beside the data the user knows about.
                let _ = fs::write(
                    data_dir.join("postgres-location.txt"),
                    format!(
                        "Running as root, the private PostgreSQL cluster for this data directory lives in\n{}\n",
                        base.display()
                    ),
                );
                base
            }
            None => data_dir.clone(),
        };
        let pgdata = base.join("postgres");
        let socket_dir = pgdata.clone();
        if socket_dir.as_os_str().len() > 90 {
            return Err(err(format!(
                "the data directory path {} is too long for a PostgreSQL socket; set CONTACTBOOK_DATA_DIR to a shorter path",
                data_dir.display()
            )));
        }
        let log_path = data_dir.join("postgres.log");

        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&bin, &base, &pgdata, run_as, &log_path)?;
        }

        if let Some(pid) = running_pid(&pgdata)
            && adopt_running(&pgdata, pid, &log_path)?
        {
            log::info!(
                "embedded PostgreSQL already running (pid {pid}) in {}; using it",
                pgdata.display()
            );
            return Ok(EmbeddedPostgres {
                socket_dir,
                keeper: Mutex::new(None),
            });
        }

        let keeper = spawn_server(&bin, &base, &pgdata, &socket_dir, run_as, &log_path)?;
        log::info!(
            "embedded PostgreSQL started in {} (socket only; log {})",
            pgdata.display(),
            log_path.display()
        );
        Ok(EmbeddedPostgres {
            socket_dir,
            keeper: Mutex::new(Some(keeper)),
        })
    }

    /// A libpq URL for `database` on this server's socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://postgres@/{}?host={}&port={PORT}",
            database,
            crate::security::url_encode(&self.socket_dir.to_string_lossy())
        )
    }

    /// Creates `name` unless it exists; `name` is an identifier we choose, never input.
    pub fn ensure_database(&self, name: &str) -> Result<(), EmbeddedError> {
        let mut conn = PgConnection::establish(&self.url("postgres"))
            .map_err(|e| err(format!("cannot connect to the embedded PostgreSQL: {e}")))?;
        #[derive(diesel::QueryableByName)]
        struct Exists {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            exists: bool,
        }
        let row: Exists =
            sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
                .bind::<diesel::sql_types::Text, _>(name)
                .get_result(&mut conn)
                .map_err(|e| err(format!("cannot list databases: {e}")))?;
        if !row.exists {
            sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .map_err(|e| err(format!("cannot create database {name}: {e}")))?;
        }
        Ok(())
    }

    /// Stops the server if this process started it (fast shutdown: sessions are
    /// disconnected, committed data is safe). Idempotent.
    pub fn stop(&self) {
        let keeper = self.keeper.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(keeper) = keeper {
            let _ = keeper.stop_tx.send(());
            if keeper
                .done_rx
                .recv_timeout(Duration::from_secs(60))
                .is_err()
            {
                log::warn!("embedded PostgreSQL did not stop within 60 s");
            } else {
                log::info!("embedded PostgreSQL stopped");
            }
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding `initdb`, `postgres` and `pg_ctl`: `PATH` first, then
/// Debian's versioned directories, newest first.
fn find_bin_dir() -> Option<PathBuf> {
    let has_all = |dir: &Path| ["initdb", "postgres"].iter().all(|b| dir.join(b).is_file());
    // An explicit choice (say, one PostgreSQL version among several) is final.
    if let Some(dir) = std::env::var_os("CONTACTBOOK_PG_BIN") {
        let dir = PathBuf::from(dir);
        return has_all(&dir).then_some(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // A symlink farm (e.g. /usr/local/bin) is fine; resolve so that the
                // server finds its share directory next to the real binary.
                let real = fs::canonicalize(dir.join("postgres")).ok()?;
                return real.parent().map(Path::to_path_buf);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_all(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_user() -> Option<RunAs> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != "postgres" {
            return None;
        }
        let _pw = f.next()?;
        Some(RunAs {
            uid: f.next()?.parse().ok()?,
            gid: f.next()?.parse().ok()?,
        })
    })
}

fn as_user(cmd: &mut Command, run_as: Option<RunAs>) {
    if let Some(user) = run_as {
        // std also drops supplementary groups when it changes the uid.
        cmd.uid(user.uid).gid(user.gid);
    }
}

fn init_cluster(
    bin: &Path,
    base: &Path,
    pgdata: &Path,
    run_as: Option<RunAs>,
    log_path: &Path,
) -> Result<(), EmbeddedError> {
    log::info!(
        "creating the embedded PostgreSQL cluster in {}",
        pgdata.display()
    );
    let mut last_output = String::new();
    // C.UTF-8 classifies non-ASCII letters properly (trigram search of names in
    // any script needs that); fall back for systems that lack that locale.
    for locale in [&["--locale=C.UTF-8"][..], &["--no-locale"][..]] {
        let mut cmd = Command::new(bin.join("initdb"));
        cmd.arg("-D")
            .arg(pgdata)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(locale)
            // The server user may not be able to enter our working directory.
            .current_dir(base)
            .env_remove("PGDATA");
        as_user(&mut cmd, run_as);
        let out = cmd
            .output()
            .map_err(|e| err(format!("cannot run initdb: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        last_output = String::from_utf8_lossy(&out.stderr).into_owned();
        let _ = fs::remove_dir_all(pgdata);
    }
    let _ = fs::write(log_path, &last_output);
    Err(err(format!(
        "initdb failed: {}",
        last_output.lines().last().unwrap_or("no output")
    )))
}

/// Waits for a server found running on our cluster to be either ready (true:
/// use it) or gone (false: start our own); one that is shutting down, say
/// because the app that owned it just exited, is waited out.
fn adopt_running(pgdata: &Path, pid: i32, log_path: &Path) -> Result<bool, EmbeddedError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid);
        if !alive {
            return Ok(false);
        }
        if server_status(pgdata).as_deref() == Some("ready") {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Err(err(format!(
                "another PostgreSQL (pid {pid}) holds {} and is not ready: {}",
                pgdata.display(),
                last_log_line(log_path)
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Line 8 of `postmaster.pid`: `starting`, `ready`, `stopping` (PostgreSQL 10+).
fn server_status(pgdata: &Path) -> Option<String> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    text.lines().nth(7).map(|l| l.trim().to_string())
}

/// The pid in `postmaster.pid` if that process is alive.
fn running_pid(pgdata: &Path) -> Option<i32> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive.then_some(pid)
}

fn spawn_server(
    bin: &Path,
    base: &Path,
    pgdata: &Path,
    socket_dir: &Path,
    run_as: Option<RunAs>,
    log_path: &Path,
) -> Result<Keeper, EmbeddedError> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| err(format!("cannot open {}: {e}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(|e| err(format!("cannot open {}: {e}", log_path.display())))?;
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-c", "listen_addresses="])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", socket_dir.display()))
        .arg("-c")
        .arg(format!("port={PORT}"))
        // Each app instance keeps a pool of connections (10 by default),
        // and the test suites run many apps at once against one cluster:
        // 100, PostgreSQL's default, was found too few.
        .args(["-c", "max_connections=300"])
        .current_dir(base)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    as_user(&mut cmd, run_as);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of
    // ours. It stops the server (fast shutdown) if this process dies without
    // calling stop(), so a killed app never leaves an orphaned server behind.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }

    // The parent-death signal fires when the *thread* that forked exits, so the
    // server is forked by a thread that lives until stop() is called.
    let (started_tx, started_rx) = mpsc::channel::<Result<u32, String>>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("postgres-keeper".into())
        .spawn(move || {
            let mut child: Child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let _ = started_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = started_tx.send(Ok(child.id()));
            // Either stop() asks, or the sender is dropped with the handle.
            let _ = stop_rx.recv();
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => thread::sleep(Duration::from_millis(50)),
                }
            }
            let _ = done_tx.send(());
        })
        .map_err(|e| err(format!("cannot start a thread: {e}")))?;

    let pid = started_rx
        .recv()
        .map_err(|_| err("the PostgreSQL keeper thread died"))?
        .map_err(|e| err(format!("cannot start postgres: {e}")))?;
    let keeper = Keeper { stop_tx, done_rx };
    if let Err(e) = wait_ready(pgdata, pid, log_path) {
        let _ = keeper.stop_tx.send(());
        let _ = keeper.done_rx.recv_timeout(Duration::from_secs(30));
        return Err(e);
    }
    Ok(keeper)
}

/// Waits until `postmaster.pid` says the server we started accepts connections.
fn wait_ready(pgdata: &Path, pid: u32, log_path: &Path) -> Result<(), EmbeddedError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if server_status(pgdata).as_deref() == Some("ready") {
            return Ok(());
        }
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            if !alive || is_zombie(pid) {
                return Err(err(format!(
                    "PostgreSQL exited at start: {}",
                    last_log_line(log_path)
                )));
            }
        }
        if Instant::now() > deadline {
            return Err(err(format!(
                "PostgreSQL did not become ready within 60 s: {}",
                last_log_line(log_path)
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn last_log_line(log_path: &Path) -> String {
    let Ok(mut f) = fs::File::open(log_path) else {
        return "no log".into();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut tail = String::new();
    let _ = BufReader::new(f).read_to_string(&mut tail);
    tail.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!("{l} (see {})", log_path.display()))
        .unwrap_or_else(|| format!("see {}", log_path.display()))
}
