//! `weave plan --input FILE [--output FILE]` on the command line.

use std::process::Command;

use weave::matching::generate::{self, Scale};

fn weave() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weave"))
}

#[test]
fn plans_a_file_to_stdout_and_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("instance.json");
    let instance = generate::instance(3, Scale::tiny(8, 5, 1, 2));
    std::fs::write(&input, serde_json::to_string_pretty(&instance).unwrap()).unwrap();

    let out = weave()
        .args(["plan", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let printed_bytes = out.stdout;
    assert_eq!(printed["summary"]["needs"], 8);

    let output = dir.path().join("plan.json");
    let out = weave()
        .args(["plan", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&output).unwrap(), printed_bytes);
}

#[test]
fn an_invalid_instance_names_the_record_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"today":"2020-02-10","needs":[{"id":"n1","community":"c","item":"mask","quantity":-5,"urgency":"high"}]}"#,
            "need \"n1\": quantity must not be negative",
        ),
        (
            r#"{"today":"2020-02-10","needs":[{"id":"n1","community":"c","item":"mask","quantity":5,"urgency":"urgent"}]}"#,
            "need \"n1\": unknown urgency \"urgent\"",
        ),
        (
            r#"{"today":"2020-02-10","sources":[{"id":"s1","kind":"stock","item":"mask","quantity":1},{"id":"s1","kind":"stock","item":"mask","quantity":1}]}"#,
            "source \"s1\": duplicate id",
        ),
        (
            r#"{"today":"2020-02-10","sources":[{"id":"p7","kind":"money"}]}"#,
            "source \"p7\": missing amount",
        ),
        (
            r#"{"today":"2020-02-10","sources":[{"id":"x","kind":"gift","item":"mask","quantity":1}]}"#,
            "source \"x\": unknown kind \"gift\"",
        ),
        (
            r#"{"today":"2020-02-10","needs":[{"id":"n1","community":"c","item":"mask","quantity":5,"urgency":"high","needed_by":"12/02/2020"}]}"#,
            "need \"n1\": needed_by \"12/02/2020\" is not a date",
        ),
        (
            r#"{"today":"2020-02-10","needs":[{"id":"n1","community":"c","item":"mask","quantity":1.5,"urgency":"high"}]}"#,
            "needs[0].quantity",
        ),
    ];
    for (text, message) in cases {
        let input = dir.path().join("bad.json");
        std::fs::write(&input, text).unwrap();
        let out = weave()
            .args(["plan", "--input"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{text}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
