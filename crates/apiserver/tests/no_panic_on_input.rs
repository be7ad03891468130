//! Property tests: no request input panics the server's decoding, routing or selector parsing,
//! and every rejection is a client error (4xx), never a 5xx.

use gantry_apiserver::decode::{MediaType, decode_object, media_type, unknown_fields};
use gantry_apiserver::query::Query;
use gantry_apiserver::route::route;
use gantry_apiserver::selector::{FieldSelector, LabelSelector};
use proptest::prelude::*;

const MEDIA: [MediaType; 3] = [MediaType::Json, MediaType::Yaml, MediaType::Protobuf];

fn is_client_error(e: &gantry_apiserver::error::ApiError) -> bool {
    (400..500).contains(&e.code_reason().0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn bodies_decode_or_fail_as_client_errors(body in proptest::collection::vec(any::<u8>(), 0..512), which in 0usize..3) {
        if let Err(e) = decode_object(&body, MEDIA[which]) {
            prop_assert!(is_client_error(&e), "{e:?}");
        }
    }

    #[test]
    fn json_like_bodies_decode_or_fail_as_client_errors(body in "[{}\\[\\]\":,a-z0-9 \\\\-]{0,200}") {
        for media in MEDIA {
            if let Err(e) = decode_object(body.as_bytes(), media) {
                prop_assert!(is_client_error(&e), "{e:?}");
            }
        }
    }

    #[test]
    fn protobuf_envelopes_with_garbage(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut body = b"k8s\0".to_vec();
        body.extend_from_slice(&tail);
        if let Err(e) = decode_object(&body, MediaType::Protobuf) {
            prop_assert!(is_client_error(&e), "{e:?}");
        }
    }

    #[test]
    fn content_types_never_panic(ct in ".{0,80}") {
        if let Err(e) = media_type(Some(&ct)) {
            prop_assert!(is_client_error(&e));
        }
    }

    #[test]
    fn query_strings_never_panic(raw in "[a-zA-Z=&%0-9,!()_. -]{0,120}") {
        if let Ok(q) = Query::parse(Some(&raw)) {
            let _ = q.exact_revision();
        }
    }

    #[test]
    fn selectors_never_panic(raw in "[a-z0-9=!,()/. _-]{0,80}") {
        let _ = LabelSelector::parse(&raw).map(|s| s.matches(&Default::default()));
        let _ = FieldSelector::parse(&raw).map(|s| s.matches(|_| None));
    }

    #[test]
    fn routes_never_panic(path in "(/[a-z0-9.-]{0,12}){0,9}") {
        let _ = route(&path);
    }

    #[test]
    fn unknown_field_walk_never_panics(a in "[{}\\[\\]\":,a-z0-9]{0,100}", b in "[{}\\[\\]\":,a-z0-9]{0,100}") {
        if let (Ok(a), Ok(b)) = (serde_json::from_str(&a), serde_json::from_str(&b)) {
            let _ = unknown_fields(&a, &b);
        }
    }
}

/// One signing key for the token properties (generating one per case would dominate).
fn tokens() -> &'static gantry_apiserver::service_account::Tokens {
    static TOKENS: std::sync::OnceLock<gantry_apiserver::service_account::Tokens> =
        std::sync::OnceLock::new();
    TOKENS.get_or_init(|| {
        gantry_apiserver::service_account::Tokens::new(
            gantry_apiserver::service_account::jwt::SigningKey::generate()
                .expect("generating a key"),
        )
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bearer_tokens_are_refused(token in ".{0,300}") {
        prop_assert!(tokens().verify(&token, 0).is_err());
    }

    #[test]
    fn forged_tokens_are_refused(
        header in "[{}\":,a-zA-Z0-9 ]{0,60}",
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        signature in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        for header in [header.as_str(), r#"{"alg":"ES256"}"#, r#"{"alg":"none"}"#] {
            let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(&payload), b64(&signature));
            prop_assert!(tokens().verify(&token, 0).is_err());
        }
    }

    #[test]
    fn altered_tokens_are_refused(at in any::<prop::sample::Index>(), with in "[a-zA-Z0-9_.=+/-]") {
        use gantry_apiserver::service_account::claims::{Claims, ObjectRef};
        use gantry_apiserver::service_account::{DEFAULT_ISSUER, now_seconds};
        let sa = ObjectRef { name: "default".into(), uid: "u".into() };
        let now = now_seconds();
        let claims = Claims::new(DEFAULT_ISSUER, vec![DEFAULT_ISSUER.into()], "default", sa, now, 3600);
        let token = tokens().sign(&claims).expect("signing");
        let i = at.index(token.len());
        let mut altered = token.clone();
        altered.replace_range(i..i + 1, &with);
        prop_assume!(altered != token);
        prop_assert!(tokens().verify(&altered, now).is_err());
        prop_assert!(tokens().verify(&token, now).is_ok());
    }
}
