//! The README's curl walkthrough, run as written against a real server.

use crate::helpers::{Engine, TestDatabase, TestServer};

fn walkthrough() -> String {
    section("## Walkthrough with curl")
}

/// What the walkthroughs may leave in the directory they run in: the server's own files.
/// Responses carry live tokens and must go to a private temporary directory instead.
fn assert_no_secret_files_left(dir: &std::path::Path) {
    let allowed = ["data", "tollgate.db", "tollgate.db-wal", "tollgate.db-shm"];
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            allowed.contains(&name.as_ref()),
            "the walkthrough left {name} in its working directory"
        );
    }
}

fn section(heading: &str) -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split(heading)
        .nth(1)
        .expect("README has the section");
    let block = section.split("```sh\n").nth(1).expect("a sh block");
    block.split("```").next().expect("closed block").to_owned()
}

#[tokio::test]
async fn the_readme_walkthrough_creates_authorizes_revokes_and_is_then_refused() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let root = db.dir.path().to_path_buf();
    let server = TestServer::start_with(db, |config| config.data_dir = root.join("data")).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let script = walkthrough().replace("127.0.0.1:8086", &address);

    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&root)
        .output()
        .await
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_no_secret_files_left(&root);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let created: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        created["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("apiv1_")
    );
    let decision: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(decision["valid"], true);
    assert_eq!(
        decision["permissions"],
        serde_json::json!([{"action": "write", "database": "db1"}])
    );
    assert_eq!(lines[2], "204");
    assert_eq!(
        lines[3],
        r#"{"valid":false,"reason":"revoked","permissions":[]}"#
    );
}

#[tokio::test]
async fn the_readme_v2_walkthrough_after_the_first_one_sets_up_grants_sensors_only_and_deactivates()
{
    let db = TestDatabase::new(Engine::Sqlite).await;
    let root = db.dir.path().to_path_buf();
    let server = TestServer::start_with(db, |config| config.data_dir = root.join("data")).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // As a reader follows the README: the first walkthrough, then this one.
    let script = format!(
        "{}\n{}",
        walkthrough(),
        section("## InfluxDB v2 walkthrough")
    )
    .replace("127.0.0.1:8086", &address);

    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&root)
        .output()
        .await
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret_files_left(&root);
    let lines: Vec<&str> = stdout.lines().skip(4).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], r#"{"user":"iot","org":"my-org","token":true}"#);
    let decision: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        decision["permissions"],
        serde_json::json!([{"action": "write", "database": "sensors"}])
    );
    assert_eq!(lines[2], "inactive");
}

#[test]
fn every_file_the_readme_names_is_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = include_str!("../../README.md");
    let mut named = Vec::new();
    // Markdown links to local files, and backticked paths under the project's folders.
    for (start, _) in readme.match_indices("](") {
        let target = &readme[start + 2..];
        let target = &target[..target.find(')').unwrap_or(0)];
        if !target.contains("://") && !target.starts_with('#') && !target.is_empty() {
            named.push(target.to_owned());
        }
    }
    for quoted in readme.split('`').skip(1).step_by(2) {
        let top = [
            "src/",
            "tests/",
            "config/",
            "scripts/",
            "migrations/",
            "examples/",
            "benches/",
            ".ci/",
        ];
        let plain = !quoted.contains(['{', '*', ' ', '<', '…', ',']) && !quoted.ends_with('/');
        if plain && top.iter().any(|t| quoted.starts_with(t)) {
            named.push(quoted.to_owned());
        }
    }
    assert!(named.len() > 10, "{named:?}");
    for path in &named {
        assert!(
            root.join(path).exists(),
            "README names {path}, which is not in the repository"
        );
    }
    assert!(
        !readme.contains("DESIGN.md"),
        "the README stands on its own"
    );
    for file in ["LICENSE", "LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"] {
        assert!(root.join(file).is_file(), "{file}");
    }
    let manifest = include_str!("../../Cargo.toml");
    assert!(manifest.contains("license = \"MIT OR Apache-2.0\""));
}
