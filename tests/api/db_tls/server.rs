//! A throwaway PostgreSQL server with a certificate from a CA made for one test, so that
//! doorman's certificate checks meet a real server. It listens on 127.0.0.1 only, on a free
//! port, and leaves the machine's own PostgreSQL alone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct TlsPostgres {
    pub port: u16,
    /// The test CA's certificate, the root a client needs to trust the server.
    pub ca_pem: PathBuf,
    bin: PathBuf,
    owner: Owner,
    // Dropped after the server is stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

/// Who runs the server: initdb refuses to run as root, so root hands it to `postgres`.
#[derive(Clone, Copy)]
enum Owner {
    Me,
    Postgres { uid: u32, gid: u32 },
}

impl TlsPostgres {
    /// Starts a server whose certificate names `names` (DNS names or IP addresses).
    /// Without PostgreSQL's binaries: a failure in CI (`CI=true`), a loud skip elsewhere.
    pub fn start(names: &[&str]) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL's server binaries (initdb, pg_ctl) are missing in CI");
            }
            eprintln!(
                "SKIPPED: PostgreSQL's server binaries (initdb, pg_ctl) were not found; \
                 install the PostgreSQL server to run the TLS tests"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let owner = if std::fs::metadata(dir.path()).unwrap().uid() == 0 {
            Owner::Postgres {
                uid: id("-u"),
                gid: id("-g"),
            }
        } else {
            Owner::Me
        };
        let root = dir.path().to_path_buf();
        let root = root.as_path();
        owner.give(root);

        let (ca_cert, ca) = new_ca();
        let (cert, key) = server_certificate(&ca, names);
        let ca_pem = root.join("ca.pem");
        std::fs::write(&ca_pem, ca_cert).unwrap();
        for (name, contents) in [("server.crt", cert), ("server.key", key)] {
            let path = root.join(name);
            std::fs::write(&path, contents).unwrap();
            owner.give(&path);
        }
        // PostgreSQL refuses a key that others can read.
        std::fs::set_permissions(
            root.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();

        let server = Self {
            port: 0,
            ca_pem,
            bin,
            owner,
            dir,
        };
        server.run(
            "initdb",
            &[
                "-D",
                "data",
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{root}'\n\
             ssl = on\n\
             ssl_cert_file = '{root}/server.crt'\n\
             ssl_key_file = '{root}/server.key'\n\
             fsync = off\n\
             shared_buffers = 16MB\n\
             max_connections = 30\n",
            root = root.display()
        );
        let conf_path = root.join("data/postgresql.conf");
        let mut all = std::fs::read_to_string(&conf_path).unwrap();
        all.push_str(&conf);
        std::fs::write(&conf_path, all).unwrap();
        Some(server.listen())
    }

    /// `pg_ctl start` on a free port; another process may take the port between finding
    /// it and binding it, so a few tries.
    fn listen(mut self) -> Self {
        for _ in 0..3 {
            self.port = free_port();
            let options = format!("-p {}", self.port);
            if self.try_run(
                "pg_ctl",
                &[
                    "-D", "data", "-l", "log", "-w", "-t", "60", "-o", &options, "start",
                ],
            ) {
                return self;
            }
            if !self.log().contains("could not bind") {
                break;
            }
        }
        panic!("the throwaway PostgreSQL did not start:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        assert!(self.try_run(tool, args), "{tool} failed:\n{}", self.log());
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> bool {
        let program = self.bin.join(tool);
        let mut command = match self.owner {
            Owner::Me => Command::new(program),
            Owner::Postgres { .. } => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            }
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        if !output.status.success() {
            eprintln!(
                "{tool}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output.status.success()
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        if self.port != 0 {
            self.try_run("pg_ctl", &["-D", "data", "-m", "immediate", "-w", "stop"]);
        }
    }
}

impl Owner {
    fn give(self, path: &Path) {
        if let Owner::Postgres { uid, gid } = self {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
        }
    }
}

/// The newest installed PostgreSQL's server binaries: Debian's layout, else `pg_config`.
fn bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    newest.or_else(|| {
        let output = Command::new("pg_config").arg("--bindir").output().ok()?;
        let bin = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
        has_tools(&bin).then_some(bin)
    })
}

fn id(flag: &str) -> u32 {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("id runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no `postgres` user to run the throwaway PostgreSQL as"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn new_ca() -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "doorman test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// A server certificate and its key, both PEM.
fn server_certificate(ca: &Issuer<'_, KeyPair>, names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, &names[0]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}
