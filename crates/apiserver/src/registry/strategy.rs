//! The per-resource policy the generic store asks for: how to prepare, validate and select
//! objects. Every method has the behaviour most resources want as its default.

use serde_json::Value;

use crate::error::FieldError;

/// Which name syntax a resource's objects must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most resources).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Label1035,
    /// Any name that is a valid path segment (RBAC roles, for example).
    PathSegment,
}

/// A cluster-wide pool of values that objects hold exclusively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    /// Service cluster IPs (the service CIDR).
    ServiceIp,
    /// Service node ports (the node port range).
    NodePort,
}

/// A value an object holds exclusively, and the field that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reservation {
    pub pool: Pool,
    pub value: String,
    pub field: String,
}

pub trait Strategy: Send + Sync {
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// Whether `status` is owned by a `/status` subresource: writes to the main resource keep
    /// the stored status, and writes to `/status` change nothing else.
    fn has_status(&self) -> bool {
        false
    }

    /// Whether `metadata.generation` tracks changes to everything outside metadata and status.
    fn tracks_generation(&self) -> bool {
        true
    }

    /// Fills in defaulted fields; runs on every write, as upstream defaulting does on decode.
    fn default(&self, _obj: &mut Value) {}

    /// Sets server-owned fields (status, for instance) on a new object.
    fn prepare_create(&self, _obj: &mut Value) {}

    /// Carries server-owned fields over from `old` on update.
    fn prepare_update(&self, _new: &mut Value, _old: &Value) {}

    /// Checks an object (after the typed codec accepted it) for semantic errors.
    fn validate(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Checks an update (immutable fields and the like), in addition to `validate`.
    fn validate_update(&self, _new: &Value, _old: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Fields beyond `metadata.name`/`metadata.namespace` that field selectors may use.
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether objects of this resource hold pool values at all (keeps every other write
    /// free of reservation work).
    fn uses_pools(&self) -> bool {
        false
    }

    /// Values this object holds exclusively (a service's cluster IP and node ports).
    fn reservations(&self, _obj: &Value) -> Vec<Reservation> {
        Vec::new()
    }

    /// Fills fields that take a value from a pool, asking `allocate` (which returns `None`
    /// when the pool is exhausted). Runs on create and update; `old` is the stored object.
    fn assign(
        &self,
        _obj: &mut Value,
        _old: Option<&Value>,
        _allocate: &mut dyn FnMut(Pool) -> Option<String>,
    ) {
    }

    /// The grace period to mark an object with on delete, instead of deleting it at once, or
    /// `None` for immediate deletion. `requested` is the client's gracePeriodSeconds.
    fn graceful_delete(&self, _obj: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }
}

/// A strategy with every default: the resource is plain data.
pub struct Plain;
impl Strategy for Plain {}

/// A strategy for resources whose status is owned by a `/status` subresource.
pub struct WithStatus;
impl Strategy for WithStatus {
    fn has_status(&self) -> bool {
        true
    }
}

/// Plain data whose names may be any path segment (RBAC objects).
pub struct AnyName;
impl Strategy for AnyName {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }
    fn tracks_generation(&self) -> bool {
        false
    }
}

/// Reads a string at a dotted path such as `spec.nodeName`.
pub fn field_string(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
