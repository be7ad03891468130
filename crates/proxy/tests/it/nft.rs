//! Real nftables in a fresh network namespace: our table is replaced atomically, other tables
//! are never touched, a bad ruleset changes nothing.

use gantry_proxy::nft::Nft;
use gantry_proxy::{Snapshot, ruleset};

use crate::fixtures::{NODE, cfg, endpoint, slice, web};
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
