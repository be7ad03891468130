//! Hostile input: random bytes and random mutations of valid bodies must make `decode` return
//! `Ok` or `Err`, never panic, and whatever decodes must encode again.

mod objects;

use proptest::prelude::*;
use prost::Message;

/// Valid bodies to mutate: every test object in its envelope.
fn seeds() -> Vec<Vec<u8>> {
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    fn wrap(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: None,
            content_type: None,
        };
        [gantry_protobuf::MAGIC.as_slice(), &unknown.encode_to_vec()].concat()
    }
    vec![
        wrap("v1", "ConfigMap", objects::config_map().0.encode_to_vec()),
        wrap("v1", "Secret", objects::secret().0.encode_to_vec()),
        wrap(
            "apps/v1",
            "Deployment",
            objects::deployment().0.encode_to_vec(),
        ),
        wrap("v1", "Service", objects::service().0.encode_to_vec()),
        wrap("batch/v1", "CronJob", objects::cron_job().0.encode_to_vec()),
        wrap("v1", "Pod", objects::pod().0.encode_to_vec()),
        wrap(
            "coordination.k8s.io/v1",
            "Lease",
            objects::lease().0.encode_to_vec(),
        ),
        wrap("v1", "Status", objects::status().0.encode_to_vec()),
    ]
}

/// Decoding must not panic; a successful decode must survive `encode`.
fn exercise(body: &[u8]) {
    if let Ok(value) = gantry_protobuf::decode(body) {
        let _ = gantry_protobuf::encode(&value);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation) {
    let len = body.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if let Some(x) = body.get_mut(i % len) {
                *x ^= b | 1;
            }
        }
        Mutation::Truncate(i) => body.truncate(i % len),
        Mutation::Insert(i, bytes) => {
            let at = (i % len).min(body.len());
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = (i % len).min(body.len());
            let end = (at + n).min(body.len());
            body.drain(at..end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
        exercise(&[gantry_protobuf::MAGIC.as_slice(), &bytes].concat());
    }

    #[test]
    fn mutated_valid_bodies(
        seed in 0usize..8,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut body = seeds()[seed % 8].clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        exercise(&body);
    }
}

/// Wraps `inner` as length-delimited field `tag`.
fn field(tag: u64, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for mut v in [(tag << 3) | 2, inner.len() as u64] {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    out.extend_from_slice(inner);
    out
}

#[test]
fn deep_nesting_is_refused() {
    // JSONSchemaProps.not (tag 28) nests itself; 10k levels would overflow an unbounded stack.
    let mut props: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        props = field(28, &props);
    }
    // CRD.spec(2).versions(7).schema(4).openAPIV3Schema(1)
    let raw = field(2, &field(7, &field(4, &field(1, &props))));
    let type_meta = [
        field(1, b"apiextensions.k8s.io/v1"),
        field(2, b"CustomResourceDefinition"),
    ]
    .concat();
    let body = [
        gantry_protobuf::MAGIC.as_slice(),
        &field(1, &type_meta),
        &field(2, &raw),
    ]
    .concat();
    assert!(matches!(
        gantry_protobuf::decode(&body),
        Err(gantry_protobuf::DecodeError::TooDeep(_))
    ));
    // A shallow schema decodes.
    let shallow = [
        gantry_protobuf::MAGIC.as_slice(),
        &field(1, &type_meta),
        &field(
            2,
            &field(2, &field(7, &field(4, &field(1, &field(28, &[]))))),
        ),
    ]
    .concat();
    assert!(gantry_protobuf::decode(&shallow).is_ok());
}
