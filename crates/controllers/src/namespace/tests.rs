//! Tables for the namespace controller's decisions.

use super::*;
use serde_json::json;

#[test]
fn finalizer_removal() {
    let ns: Namespace = serde_json::from_value(
        json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes", "example.com/x"]}}),
    )
    .unwrap_or_default();
    assert_eq!(without_finalizer(&ns), vec!["example.com/x".to_string()]);
    assert!(without_finalizer(&Namespace::default()).is_empty());
}

#[test]
fn conditions_table() {
    let now = Timestamp::from_second(100).unwrap_or_default();
    let clean = Progress::default();
    let held = Progress {
        remaining: [("configmaps".to_string(), 1)].into(),
        finalizers: [("example.com/hold".to_string(), 1)].into(),
        ..Default::default()
    };
    let failed = Progress {
        deletion_failures: vec!["widgets.example.com: boom".into()],
        ..Default::default()
    };
    let cases: Vec<(&Progress, &str, &str, &str)> = vec![
        (
            &clean,
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
        ),
        (
            &held,
            "NamespaceContentRemaining",
            "True",
            "Some resources are remaining: configmaps has 1 resource instances",
        ),
        (
            &held,
            "NamespaceFinalizersRemaining",
            "True",
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
        ),
        (
            &failed,
            "NamespaceDeletionContentFailure",
            "True",
            "Failed to delete all resource types, 1 remaining: widgets.example.com: boom",
        ),
        (
            &clean,
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
        ),
    ];
    for (progress, type_, status, text) in cases {
        let all = conditions(&[], progress, now);
        let c = all.iter().find(|c| c.type_ == type_);
        let got = c.map(|c| {
            (
                c.status.as_str(),
                if c.status == "True" {
                    c.message.clone().unwrap_or_default()
                } else {
                    c.reason.clone().unwrap_or_default()
                },
            )
        });
        assert_eq!(got, Some((status, text.to_string())), "{type_}");
    }
    assert!(clean.done() && !held.done() && !failed.done());
}

#[test]
fn unchanged_conditions_keep_their_transition_time() {
    let first = conditions(
        &[],
        &Progress::default(),
        Timestamp::from_second(100).unwrap_or_default(),
    );
    let again = conditions(
        &first,
        &Progress::default(),
        Timestamp::from_second(200).unwrap_or_default(),
    );
    assert_eq!(first, again);
}
