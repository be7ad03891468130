//! Token issuing and bearer authentication against a real store: the cases a token must
//! survive (fresh, bound) and the ones it must not (expired, wrong audience, bad signature,
//! unknown or recreated ServiceAccount, deleted pod).

use std::sync::Arc;

use serde_json::{Value, json};

use super::claims::{Claims, ObjectRef};
use super::jwt::SigningKey;
use super::{DEFAULT_ISSUER, TokenError, Tokens, create_token, now_seconds};
use crate::error::ApiError;
use crate::query::Query;
use crate::registry::Registry;
use crate::storage::{DeleteOptions, Storage};

async fn setup() -> (tempfile::TempDir, Storage, Tokens) {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::embedded::EmbeddedStore::open(dir.path(), Default::default())
        .await
        .unwrap();
    let storage = Storage::new(Registry::builtin(), store as Arc<dyn gantry_store::Store>);
    crate::namespace_lifecycle::ensure_system_namespaces(&storage)
        .await
        .unwrap();
    let tokens = Tokens::new(SigningKey::generate().unwrap());
    (dir, storage, tokens)
}

async fn create(storage: &Storage, plural: &str, obj: Value) -> Value {
    let def = storage.registry.get("", "v1", plural).unwrap();
    storage
        .create(def, Some("default"), obj, &Query::default())
        .await
        .unwrap()
        .object
}

async fn delete(storage: &Storage, plural: &str, name: &str) {
    let def = storage.registry.get("", "v1", plural).unwrap();
    let q = Query::default();
    let opts = DeleteOptions::from_request(br#"{"gracePeriodSeconds": 0}"#, &q).unwrap();
    storage
        .delete(def, Some("default"), name, &opts, &q)
        .await
        .unwrap();
}

async fn token(
    tokens: &Tokens,
    storage: &Storage,
    name: &str,
    body: Value,
) -> Result<String, ApiError> {
    let answer = create_token(tokens, storage, "default", name, body).await?;
    Ok(answer["status"]["token"].as_str().unwrap().to_string())
}

fn code(result: Result<String, ApiError>) -> u16 {
    result.err().map_or(0, |e| e.code_reason().0)
}

#[tokio::test]
async fn token_requests() {
    let (_dir, storage, tokens) = setup().await;
    create(
        &storage,
        "serviceaccounts",
        json!({"metadata": {"name": "sa"}}),
    )
    .await;
    let default = json!({"metadata": {"name": "default"}});
    create(&storage, "serviceaccounts", default).await;
    let pod = create(
        &storage,
        "pods",
        json!({"metadata": {"name": "p"}, "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "image": "i"}]}}),
    )
    .await;
    let answer = create_token(&tokens, &storage, "default", "sa", json!({"spec": {}}))
        .await
        .unwrap();
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["spec"]["audiences"], json!([DEFAULT_ISSUER]));
    assert_eq!(answer["spec"]["expirationSeconds"], 3600);
    assert!(answer["status"]["expirationTimestamp"].is_string());
    let bound = |kind: &str, name: &str, uid: &str| json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": kind, "name": name, "uid": uid}}});
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let cases = [
        (
            "unknown service account",
            "nobody",
            json!({"spec": {}}),
            404,
        ),
        (
            "too short",
            "sa",
            json!({"spec": {"expirationSeconds": 599}}),
            422,
        ),
        (
            "minimum",
            "sa",
            json!({"spec": {"expirationSeconds": 600}}),
            0,
        ),
        (
            "kubectl's empty status",
            "sa",
            json!({"spec": {}, "status": {"token": "", "expirationTimestamp": null}}),
            0,
        ),
        ("bound to the pod", "sa", bound("Pod", "p", uid), 0),
        ("bound to a missing pod", "sa", bound("Pod", "q", ""), 404),
        ("stale pod uid", "sa", bound("Pod", "p", "other"), 409),
        (
            "pod of another account",
            "default",
            bound("Pod", "p", ""),
            400,
        ),
        ("bound to a node", "sa", bound("Node", "n", ""), 400),
        ("not an object", "sa", json!({"spec": 7}), 400),
    ];
    for (what, name, body, want) in cases {
        assert_eq!(
            code(token(&tokens, &storage, name, body).await),
            want,
            "{what}"
        );
    }
    let t = token(&tokens, &storage, "sa", bound("Pod", "p", uid))
        .await
        .unwrap();
    let claims = tokens.verify(&t, now_seconds()).unwrap();
    assert_eq!(claims.sub, "system:serviceaccount:default:sa");
    assert_eq!(claims.kubernetes.pod.map(|p| p.uid), Some(uid.to_string()));
}

#[tokio::test]
async fn bearer_authentication() {
    let (_dir, storage, tokens) = setup().await;
    let sa = create(
        &storage,
        "serviceaccounts",
        json!({"metadata": {"name": "sa"}}),
    )
    .await;
    let pod = create(
        &storage,
        "pods",
        json!({"metadata": {"name": "p"}, "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "image": "i"}]}}),
    )
    .await;
    let sa_ref = ObjectRef {
        name: "sa".into(),
        uid: sa["metadata"]["uid"].as_str().unwrap().into(),
    };
    let pod_ref = ObjectRef {
        name: "p".into(),
        uid: pod["metadata"]["uid"].as_str().unwrap().into(),
    };
    let now = now_seconds();
    let claims = |f: &dyn Fn(&mut Claims)| {
        let mut c = Claims::new(
            DEFAULT_ISSUER,
            vec![DEFAULT_ISSUER.into()],
            "default",
            sa_ref.clone(),
            now,
            3600,
        );
        f(&mut c);
        tokens.sign(&c).unwrap()
    };
    let user = tokens
        .authenticate(&storage, &claims(&|_| {}))
        .await
        .unwrap();
    assert_eq!(user.username, "system:serviceaccount:default:sa");
    assert_eq!(user.uid, sa_ref.uid);
    assert_eq!(
        user.groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ]
    );
    let bound = claims(&|c| c.kubernetes.pod = Some(pod_ref.clone()));
    let user = tokens.authenticate(&storage, &bound).await.unwrap();
    assert_eq!(user.extra["authentication.kubernetes.io/pod-name"], ["p"]);

    let other_key = Tokens::new(SigningKey::generate().unwrap());
    let foreign = {
        let c = Claims::new(
            DEFAULT_ISSUER,
            vec![DEFAULT_ISSUER.into()],
            "default",
            sa_ref.clone(),
            now,
            3600,
        );
        other_key.sign(&c).unwrap()
    };
    let mut tampered = claims(&|_| {});
    tampered.insert(
        tampered.len() - 2,
        if tampered.ends_with("AA") { 'B' } else { 'A' },
    );
    let refused = [
        ("expired", claims(&|c| c.exp = now - 3600)),
        ("not yet valid", claims(&|c| c.nbf = now + 3600)),
        ("wrong audience", claims(&|c| c.aud = vec!["vault".into()])),
        (
            "unknown service account",
            claims(&|c| {
                c.kubernetes.serviceaccount.name = "ghost".into();
                c.sub = "system:serviceaccount:default:ghost".into();
            }),
        ),
        (
            "recreated service account",
            claims(&|c| c.kubernetes.serviceaccount.uid = "old".into()),
        ),
        ("bad signature", foreign),
        ("tampered", tampered),
        ("garbage", "not-a-token".into()),
    ];
    for (what, t) in refused {
        assert!(tokens.authenticate(&storage, &t).await.is_err(), "{what}");
    }
    delete(&storage, "pods", "p").await;
    assert!(matches!(
        tokens.authenticate(&storage, &bound).await,
        Err(TokenError::Gone { kind: "Pod", .. })
    ));
    assert!(
        tokens
            .authenticate(&storage, &claims(&|_| {}))
            .await
            .is_ok()
    );
    delete(&storage, "serviceaccounts", "sa").await;
    assert!(
        tokens
            .authenticate(&storage, &claims(&|_| {}))
            .await
            .is_err()
    );
}
