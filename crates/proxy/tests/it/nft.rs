//! Real nftables in a fresh network namespace: our table is replaced atomically, other tables
//! are never touched, a bad ruleset changes nothing.

use gantry_proxy::nft::Nft;
use gantry_proxy::{Snapshot, ruleset, update};
use serde_json::json;

use crate::fixtures::{NODE, cfg, endpoint, service, slice, web};
use crate::netns::Netns;

#[tokio::test]
async fn apply_replaces_only_our_table() {
    let ns = Netns::new("nft");
    let nft = Nft::in_netns(&ns.name);
    ns.exec_ok(&["nft", "add", "table", "ip", "other"]);
    ns.exec_ok(&["nft", "add", "chain", "ip", "other", "c"]);
    let cfg = cfg();

    let first = ruleset(
        &Snapshot::build(
            &[web("web", "10.43.0.10"), web("empty", "10.43.0.11")],
            &[slice("web", 8080, vec![endpoint("10.42.0.11", NODE, true)])],
        ),
        &cfg,
    );
    nft.apply("gantry", &first).await.expect("first apply");
    let listed = nft.list_table("gantry").await.expect("list");
    assert!(
        listed.contains("10.43.0.10 . tcp . 80 : goto svc-default/web/tcp/http"),
        "{listed}"
    );
    assert!(
        listed.contains("10.43.0.11 . tcp . 80 : goto reject-chain"),
        "{listed}"
    );
    assert!(listed.contains("dnat to 10.42.0.11:8080"), "{listed}");

    // Changed: a second endpoint, `empty` gone. The old content must be gone too.
    let second = ruleset(
        &Snapshot::build(
            &[web("web", "10.43.0.10")],
            &[slice(
                "web",
                8080,
                vec![
                    endpoint("10.42.0.11", NODE, true),
                    endpoint("10.42.0.12", NODE, true),
                ],
            )],
        ),
        &cfg,
    );
    nft.apply("gantry", &second).await.expect("second apply");
    let listed = nft.list_table("gantry").await.expect("list");
    assert!(listed.contains("numgen random mod 2"), "{listed}");
    assert!(!listed.contains("10.43.0.11"), "{listed}");
    assert_eq!(ns.exec_ok(&["nft", "list", "tables"]).lines().count(), 2);
    let other = ns.exec_ok(&["nft", "list", "table", "ip", "other"]);
    assert!(other.contains("chain c"), "{other}");

    // A broken ruleset is refused as a whole: the previous table stays.
    let broken = second.replace("numgen random", "numgen bogus");
    let error = nft
        .apply("gantry", &broken)
        .await
        .expect_err("must be refused");
    assert!(error.to_string().contains("gantry"), "{error}");
    assert_eq!(nft.list_table("gantry").await.expect("list"), listed);

    // Re-applying the same text is fine and changes nothing visible.
    nft.apply("gantry", &second)
        .await
        .expect("idempotent apply");
    assert_eq!(nft.list_table("gantry").await.expect("list"), listed);

    nft.delete_table("gantry").await.expect("delete");
    nft.delete_table("gantry")
        .await
        .expect("delete twice is fine");
    let tables = ns.exec_ok(&["nft", "list", "tables"]);
    assert_eq!(tables.trim(), "table ip other");
}

#[tokio::test]
async fn update_in_place_keeps_affinity_entries() {
    let ns = Netns::new("upd");
    let nft = Nft::in_netns(&ns.name);
    ns.exec_ok(&["nft", "add", "table", "ip", "other"]);
    let cfg = cfg();
    let sticky = service(
        "web",
        json!({ "clusterIP": "10.43.0.10", "sessionAffinity": "ClientIP",
                "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }),
    );
    let web_slice = slice("web", 8080, vec![endpoint("10.42.0.11", NODE, true)]);
    let first = ruleset(
        &Snapshot::build(
            &[sticky.clone(), web("gone", "10.43.0.11")],
            &[
                web_slice.clone(),
                slice("gone", 8080, vec![endpoint("10.42.0.20", NODE, true)]),
            ],
        ),
        &cfg,
    );
    nft.apply("gantry", &first).await.expect("first apply");
    let set = "aff-default/web/tcp/http/10.42.0.11/8080";
    ns.exec_ok(&[
        "nft",
        "add",
        "element",
        "ip",
        "gantry",
        set,
        "{ 192.0.2.9 }",
    ]);

    let second = ruleset(
        &Snapshot::build(
            &[sticky, web("new", "10.43.0.12")],
            &[
                web_slice,
                slice("new", 8080, vec![endpoint("10.42.0.30", NODE, true)]),
            ],
        ),
        &cfg,
    );
    let objects = update::objects(&second);
    assert!(objects.contains(&update::Object::Set(set.to_string())));
    assert!(objects.contains(&update::Object::Map("service-ips".to_string())));
    nft.update("gantry", &first, &second)
        .await
        .expect("in-place update");

    let listed = nft.list_table("gantry").await.expect("list");
    assert!(
        listed.contains("192.0.2.9"),
        "affinity entry lost:\n{listed}"
    );
    assert!(
        !listed.contains("gone") && !listed.contains("10.42.0.20"),
        "{listed}"
    );
    assert!(listed.contains("dnat to 10.42.0.30:8080"), "{listed}");
    // Rules are not duplicated by re-declaring the chains.
    assert_eq!(listed.matches("jump services").count(), 2, "{listed}");
    assert_eq!(
        listed.matches("10.43.0.10 . tcp . 80").count(),
        1,
        "{listed}"
    );
    // Same result as a full replacement, apart from the affinity entry.
    let fresh = Netns::new("updref");
    let reference = Nft::in_netns(&fresh.name);
    reference
        .apply("gantry", &second)
        .await
        .expect("reference apply");
    let expected = reference.list_table("gantry").await.expect("list");
    // (Chains re-declared in place keep their creation order, so compare sorted lines.)
    let lines = |text: &str| {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.contains("192.0.2.9"))
            .map(|l| l.trim().to_string())
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(lines(&listed), lines(&expected));
    assert!(
        ns.exec_ok(&["nft", "list", "tables"])
            .contains("table ip other")
    );
}
