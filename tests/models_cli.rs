//! `emoscope models fetch` and `models list` against a local Hugging Face
//! Hub: a tiny_http server on 127.0.0.1 that serves a repository layout
//! (`/api/models/<repo>/revision/<rev>` listings and
//! `/<repo>/resolve/<rev>/<file>` downloads with `ETag`, `X-Repo-Commit` and
//! byte ranges), reached through the same hf-hub client code as the real Hub
//! by pointing `HF_ENDPOINT` at it, with the cache in `HF_HOME`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

mod common;

/// One repository revision: its commit and files.
struct RepoRev {
    commit: String,
    files: HashMap<String, Vec<u8>>,
}

/// A Hub on a background thread; requests are logged.
struct Hub {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    _server: Arc<tiny_http::Server>,
}

fn serve(repos: HashMap<(String, String), RepoRev>) -> Hub {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let (s, l) = (server.clone(), log.clone());
    std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let path = req.url().to_owned();
            l.lock().unwrap().push(path.clone());
            let range = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .map(|h| h.value.as_str().to_owned());
            let header = |k: &str, v: &str| {
                tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap()
            };
            let not_found = || tiny_http::Response::from_string("not found").with_status_code(404);
            let response = if let Some(rest) = path.strip_prefix("/api/models/") {
                // owner/name/revision/rev
                let parts: Vec<&str> = rest.splitn(4, '/').collect();
                match parts.as_slice() {
                    [o, n, "revision", rev] => {
                        match repos.get(&(format!("{o}/{n}"), rev.to_string())) {
                            Some(r) => {
                                let siblings: Vec<serde_json::Value> = r
                                    .files
                                    .keys()
                                    .map(|f| serde_json::json!({ "rfilename": f }))
                                    .collect();
                                tiny_http::Response::from_string(
                                    serde_json::json!({ "sha": r.commit, "siblings": siblings })
                                        .to_string(),
                                )
                                .with_header(header("Content-Type", "application/json"))
                            }
                            None => not_found(),
                        }
                    }
                    _ => not_found(),
                }
            } else {
                // owner/name/resolve/rev/file
                let parts: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
                match parts.as_slice() {
                    [o, n, "resolve", rev, file] => {
                        match repos
                            .get(&(format!("{o}/{n}"), rev.to_string()))
                            .and_then(|r| Some((r, r.files.get(*file)?)))
                        {
                            Some((r, data)) => {
                                let mut h = std::collections::hash_map::DefaultHasher::new();
                                data.hash(&mut h);
                                let etag = format!("\"{:016x}\"", h.finish());
                                let (from, to) =
                                    match range.as_deref().and_then(|v| v.strip_prefix("bytes=")) {
                                        Some(spec) => {
                                            let (a, b) = spec.split_once('-').unwrap();
                                            let a: usize = a.parse().unwrap();
                                            let b = if b.is_empty() {
                                                data.len() - 1
                                            } else {
                                                b.parse::<usize>().unwrap().min(data.len() - 1)
                                            };
                                            (a, b)
                                        }
                                        None => (0, data.len() - 1),
                                    };
                                tiny_http::Response::from_data(data[from..=to].to_vec())
                                    .with_status_code(if range.is_some() { 206 } else { 200 })
                                    .with_header(header("ETag", &etag))
                                    .with_header(header("X-Repo-Commit", &r.commit))
                                    .with_header(header(
                                        "Content-Range",
                                        &format!("bytes {from}-{to}/{}", data.len()),
                                    ))
                            }
                            None => not_found(),
                        }
                    }
                    _ => not_found(),
                }
            };
            let _ = req.respond(response);
        }
    });
    Hub {
        url,
        log,
        _server: server,
    }
}

fn fixture_files() -> HashMap<String, Vec<u8>> {
    [
        "config.json",
        "preprocessor_config.json",
        "model.safetensors",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read(common::fixture("distilhubert").join(f)).unwrap(),
        )
    })
    .collect()
}

fn emoscope(args: &[&str], hub: &Hub, home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(args)
        .env("HF_HOME", home)
        .env("HF_ENDPOINT", &hub.url)
        .env_remove("HF_TOKEN")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn snapshot(home: &Path, repo: &str, commit: &str) -> PathBuf {
    home.join("hub")
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots")
        .join(commit)
}

#[test]
fn fetch_downloads_a_zoo_entry_into_the_hf_cache_and_list_sees_it() {
    let mut files = fixture_files();
    // A pickle next to the safetensors: the zoo prefers safetensors, so it is never requested.
    files.insert("pytorch_model.bin".into(), b"pickle".to_vec());
    files.insert("README.md".into(), b"# card".to_vec());
    let mut repos = HashMap::new();
    repos.insert(
        ("ntu-spml/distilhubert".into(), "main".into()),
        RepoRev {
            commit: COMMIT.into(),
            files,
        },
    );
    let hub = serve(repos);
    let home = tempfile::tempdir().unwrap();

    let before = emoscope(&["models", "list"], &hub, home.path());
    assert!(before.status.success(), "{}", text(&before));
    assert!(
        text(&before).contains("ntu-spml/distilhubert@main") && !text(&before).contains("present"),
        "{}",
        text(&before)
    );

    let out = emoscope(
        &["models", "fetch", "ntu-spml/distilhubert"],
        &hub,
        home.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let snap = snapshot(home.path(), "ntu-spml/distilhubert", COMMIT);
    for f in [
        "config.json",
        "preprocessor_config.json",
        "model.safetensors",
    ] {
        assert_eq!(
            std::fs::read(snap.join(f)).unwrap(),
            std::fs::read(common::fixture("distilhubert").join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!snap.join("pytorch_model.bin").exists() && !snap.join("README.md").exists());
    let refs = home
        .path()
        .join("hub/models--ntu-spml--distilhubert/refs/main");
    assert_eq!(std::fs::read_to_string(refs).unwrap(), COMMIT);
    let log = hub.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|p| p == "/api/models/ntu-spml/distilhubert/revision/main"),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|p| p.ends_with("pytorch_model.bin")),
        "{log:?}"
    );
    assert!(
        text(&out).contains(&snap.display().to_string()),
        "{}",
        text(&out)
    );
    // The snapshot is a checkpoint the encoder loads.
    emoscope::models::SslEncoder::load(&snap).unwrap();

    let after = emoscope(&["models", "list"], &hub, home.path());
    let listing = text(&after);
    let line = listing
        .lines()
        .find(|l| l.starts_with("ntu-spml/distilhubert@main"))
        .unwrap();
    assert!(
        line.contains(&format!("present: {}", snap.display())),
        "{listing}"
    );
    assert!(listing
        .lines()
        .find(|l| l.starts_with("facebook/hubert-base-ls960"))
        .unwrap()
        .contains("not downloaded"));
}

#[test]
fn fetch_takes_a_revision_and_the_first_weights_the_repo_has() {
    let mut files = fixture_files();
    files.remove("model.safetensors");
    files.insert("pytorch_model.bin".into(), b"a pickle stands in".to_vec());
    files.insert("emoscope.json".into(), b"{}".to_vec());
    let mut repos = HashMap::new();
    let commit = "fedcba9876543210fedcba9876543210fedcba98";
    repos.insert(
        ("lab/emo-model".into(), "v2".into()),
        RepoRev {
            commit: commit.into(),
            files,
        },
    );
    let hub = serve(repos);
    let home = tempfile::tempdir().unwrap();
    let out = emoscope(&["models", "fetch", "lab/emo-model@v2"], &hub, home.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not in the model zoo"),
        "{}",
        text(&out)
    );
    let snap = snapshot(home.path(), "lab/emo-model", commit);
    assert_eq!(
        std::fs::read(snap.join("pytorch_model.bin")).unwrap(),
        b"a pickle stands in"
    );
    // The generic plan fetches the companion files the repository has.
    for f in ["config.json", "preprocessor_config.json", "emoscope.json"] {
        assert!(snap.join(f).is_file(), "{f}");
    }
    let log = hub.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .all(|p| p.contains("/v2/") || p.ends_with("/revision/v2")),
        "{log:?}"
    );
}

#[test]
fn a_missing_file_or_repository_is_a_clear_error() {
    let mut files = fixture_files();
    files.remove("preprocessor_config.json");
    let mut repos = HashMap::new();
    repos.insert(
        ("facebook/hubert-base-ls960".into(), "main".into()),
        RepoRev {
            commit: COMMIT.into(),
            files,
        },
    );
    let hub = serve(repos);
    let home = tempfile::tempdir().unwrap();
    let out = emoscope(
        &["models", "fetch", "facebook/hubert-base-ls960"],
        &hub,
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("facebook/hubert-base-ls960@main has no `preprocessor_config.json`"),
        "{}",
        text(&out)
    );
    let out = emoscope(&["models", "fetch", "nobody/nothing"], &hub, home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("listing the files of nobody/nothing@main"),
        "{}",
        text(&out)
    );
    let out = emoscope(&["models", "fetch", "not-a-repo"], &hub, home.path());
    assert!(!out.status.success());
    assert!(
        text(&out).contains("expected `owner/name`"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_hub_is_reported_once() {
    // A port nobody listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["models", "fetch", "ntu-spml/distilhubert"])
        .env("HF_HOME", home.path())
        .env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"))
        .env_remove("HF_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("listing the files of ntu-spml/distilhubert"),
        "{err}"
    );
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}

#[cfg(unix)]
#[test]
fn list_shows_the_default_model_and_whether_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let list = |envs: &[(&str, &Path)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_emoscope"));
        c.args(["models", "list"])
            .env("HF_HOME", home.path())
            .env("XDG_DATA_HOME", data.path())
            .env_remove("EMOSCOPE_MODEL");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let installed = data.path().join("emoscope/default-model");
    let o = list(&[]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(&format!(
            "default model: not installed ({} does not exist",
            installed.display()
        )),
        "{out}"
    );
    // Installed where the data dir says, readable by the owner only.
    let model = common::model_dir("listed", 1.0);
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(model.path(), &installed).unwrap();
    std::fs::set_permissions(
        model.path().join("head.safetensors"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let o = list(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(&format!("default model: {}  [listed]", installed.display())),
        "{out}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("readable by you only") && err.contains("chmod -R a+rX"),
        "{err}"
    );
    // $EMOSCOPE_MODEL wins and is named.
    let o = list(&[("EMOSCOPE_MODEL", model.path())]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(&format!(
            "default model: {} (from $EMOSCOPE_MODEL)  [listed]",
            model.path().display()
        )),
        "{out}"
    );
}
