//! Arbitrary input never panics the loader, and every diagnostic it gives
//! for a file points inside that file.

use proptest::prelude::*;

/// YAML-shaped text built from catalog words, so generated documents reach
/// deep into the decoder instead of failing at the first line.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "customers",
        "defaults",
        "tiers",
        "destinations",
        "id",
        "hosts",
        "zones",
        "slos",
        "availability",
        "latency",
        "probe",
        "objective",
        "period",
        "threshold",
        "alerting",
        "routes",
        "to",
        "severity",
        "min_requests",
        "probes",
        "url",
        "interval",
        "timeout",
        "jira",
        "pagerduty",
        "log",
        "auth",
        "basic",
        "token",
        "routing_key",
        "tier",
        "errors",
        "exclude",
        "runbooks",
        "default",
        "expect",
        "status",
        "<<",
    ]);
    let scalar = prop_oneof![
        Just("99.9".to_owned()),
        Just("100".to_owned()),
        Just("28d".to_owned()),
        Just("300ms".to_owned()),
        Just("5xx".to_owned()),
        Just("env:X".to_owned()),
        Just("'*.a.example'".to_owned()),
        Just("https://a.example/".to_owned()),
        Just("~".to_owned()),
        Just("&a x".to_owned()),
        Just("*a".to_owned()),
        "[a-z0-9.:%*-]{0,12}",
    ];
    let leaf = scalar.prop_map(|s| s);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

/// Lines as YAML counts them: `\r\n`, `\n`, a lone `\r`, NEL, and the
/// Unicode line and paragraph separators all end a line.
fn yaml_lines(text: &str) -> usize {
    let text = text.replace("\r\n", "\n");
    1 + text.chars().filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')).count()
}

fn check(text: &str) {
    let lines = yaml_lines(text);
    match edgewatch_catalog::load_str("fuzz.yaml", text) {
        Ok(_) => {}
        Err(rejected) => {
            for d in &rejected.diagnostics {
                if let Some(line) = d.line {
                    assert!(line >= 1 && line <= lines + 1, "line {line} outside a {lines}-line file: {d}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn unusual_line_breaks_are_counted_as_yaml_counts_them(a in "[a-z:? ]{0,8}", b in "[a-z:? ]{0,8}", br in prop::sample::select(vec!["\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}"])) {
        check(&format!("{a}{br}{b}{br}?"));
    }

    #[test]
    fn arbitrary_yaml_never_panics(doc in yamlish()) {
        check(&doc);
    }

    #[test]
    fn arbitrary_block_yaml_never_panics(doc in yamlish()) {
        // The same documents in block style, as people write them.
        if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(&doc)
            && let Ok(block) = edgewatch_catalog::yaml::to_string(&value)
        {
            check(&block);
        }
    }
}
