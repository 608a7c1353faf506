//! The job-array recipes the README shows (examples/cluster/): the Slurm
//! script passes `bash -n` and, run as each of its eight array tasks with the
//! real `emoscope` on PATH, plus `merge`, gives the index of a single run;
//! the Kubernetes Indexed Job parses as YAML with the fields an Indexed Job
//! needs, and its container command, run for each completion index, does the
//! same. (Neither Slurm nor a Kubernetes cluster is available here: the
//! schedulers' own parts, `sbatch` and the Job controller, are not exercised.)

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn cluster(name: &str) -> PathBuf {
    common::repo().join("examples/cluster").join(name)
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_emoscope"))
        .parent()
        .unwrap()
        .to_owned()
}

fn path_with_emoscope() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A small corpus of four files in two folders.
fn corpus(dir: &Path) -> PathBuf {
    let c = dir.join("interviews");
    for (f, seconds) in [
        ("a/1.wav", 3.0),
        ("a/2.wav", 5.0),
        ("b/1.wav", 2.5),
        ("3.wav", 4.5),
    ] {
        std::fs::create_dir_all(c.join(f).parent().unwrap()).unwrap();
        common::write_wav(&c.join(f), &common::signal(seconds, 16_000.0), 16_000);
    }
    c
}

fn run_ok(c: &mut Command) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `index.json` of `dir` without the wall-clock seconds.
fn index(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    for e in v["entries"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("seconds");
    }
    v
}

fn single_run(c: &Path, out: &Path, model: &Path) -> serde_json::Value {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .args(["annotate"])
            .arg(c)
            .arg("--out")
            .arg(out)
            .args(["--format", "all", "--model"])
            .arg(model),
    );
    index(out)
}

#[test]
fn the_readme_shows_both_recipes_verbatim() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    for name in ["slurm-annotate.sh", "annotate-job.yaml"] {
        // Inside a list item of the README: every non-empty line indented by two spaces.
        let text: String = std::fs::read_to_string(cluster(name))
            .unwrap()
            .split_inclusive('\n')
            .map(|l| {
                if l.trim().is_empty() {
                    l.to_owned()
                } else {
                    format!("  {l}")
                }
            })
            .collect();
        assert!(
            readme.contains(&text),
            "README.md must show {name} as it is"
        );
    }
}

#[test]
fn the_slurm_array_script_annotates_every_shard() {
    let script = cluster("slurm-annotate.sh");
    run_ok(Command::new("bash").arg("-n").arg(&script));
    let model = common::model_dir("slurm", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let out = tmp.path().join("annotations");
    // `#SBATCH --array=0-7`: eight tasks, SLURM_ARRAY_TASK_MAX 7.
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("#SBATCH --array=0-7"), "{text}");
    for task in 0..8 {
        run_ok(
            Command::new("bash")
                .arg(&script)
                .arg(&c)
                .arg(&out)
                .env("PATH", path_with_emoscope())
                .env("EMOSCOPE_MODEL", model.path())
                .env("SLURM_ARRAY_TASK_ID", task.to_string())
                .env("SLURM_ARRAY_TASK_MAX", "7")
                .env("SLURM_ARRAY_JOB_ID", "1234"),
        );
    }
    // What the dependent merge job runs.
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .arg("merge")
            .arg(&out),
    );
    let single = single_run(&c, &tmp.path().join("single"), model.path());
    let merged = index(&out);
    assert_eq!(merged["entries"], single["entries"]);
    assert_eq!(merged["entries"].as_array().unwrap().len(), 4);
}

#[test]
fn the_kubernetes_indexed_job_annotates_every_index() {
    let manifest = cluster("annotate-job.yaml");
    let py = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, yaml\n\
             job = yaml.safe_load(open(sys.argv[1]))\n\
             assert job['apiVersion'] == 'batch/v1' and job['kind'] == 'Job', job\n\
             spec = job['spec']\n\
             assert spec['completionMode'] == 'Indexed', spec\n\
             assert spec['completions'] == spec['parallelism'] == 8, spec\n\
             pod = spec['template']['spec']\n\
             assert pod['restartPolicy'] == 'Never', pod\n\
             c = pod['containers'][0]\n\
             print(json.dumps(c['command'] + c['args']))\n",
        )
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let argv: Vec<String> = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(argv[..2], ["sh", "-c"]);
    assert!(argv[2].contains("$JOB_COMPLETION_INDEX/8"), "{}", argv[2]);

    let model = common::model_dir("k8s", 1.0);
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    // The pod's /data volume is this test's temporary folder.
    let data = tmp.path().to_str().unwrap();
    let command = argv[2].replace("/data", data);
    for index in 0..8 {
        run_ok(
            Command::new(&argv[0])
                .args([&argv[1], &command])
                .env("PATH", path_with_emoscope())
                .env("EMOSCOPE_MODEL", model.path())
                .env("JOB_COMPLETION_INDEX", index.to_string()),
        );
    }
    let out = tmp.path().join("annotations");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .arg("merge")
            .arg(&out),
    );
    let single = single_run(&c, &tmp.path().join("single"), model.path());
    assert_eq!(index(&out)["entries"], single["entries"]);
}
