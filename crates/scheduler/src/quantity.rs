//! Resource quantities (`100m`, `1Gi`, `1e3`) parsed into integers, and the resource vector the
//! scheduler adds and compares: milli-CPU, bytes of memory and ephemeral storage, scalar
//! (extended) resources.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub use gantry_quantity::{milli_value, value};

/// CPU and memory a container without requests counts as when scoring (upstream's defaults).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A vector of resources: what a pod requests, a node offers or a node has committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources (`example.com/gpu`, `hugepages-2Mi`), by name.
    pub scalars: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a `ResourceList` (requests or allocatable); `pods` is ignored here.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            match name.as_str() {
                "cpu" => r.milli_cpu += milli_value(q),
                "memory" => r.memory += value(q),
                "ephemeral-storage" => r.ephemeral_storage += value(q),
                "pods" => {}
                other if is_scalar(other) => {
                    *r.scalars.entry(other.to_owned()).or_default() += value(q)
                }
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.scalars {
            *self.scalars.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (k, v) in &other.scalars {
            *self.scalars.entry(k.clone()).or_default() -= v;
        }
        self.scalars.retain(|_, v| *v != 0);
    }

    /// Each resource becomes the larger of the two.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalars {
            let e = self.scalars.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalars.values().all(|v| *v == 0)
    }
}

/// Resources the fit filter checks besides cpu, memory and ephemeral storage: extended
/// (domain-prefixed) resources and huge pages.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
        || name.starts_with("attachable-volumes-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        let cases: &[(&str, i64, i64)] = &[
            ("1", 1, 1000),
            ("100m", 1, 100),
            ("1.5", 2, 1500),
            ("0.1", 1, 100),
            ("1Ki", 1024, 1_024_000),
            ("128Mi", 134_217_728, 134_217_728_000),
            ("1G", 1_000_000_000, 1_000_000_000_000),
            ("2e3", 2000, 2_000_000),
            ("1E", 1_000_000_000_000_000_000, i64::MAX),
            ("500u", 1, 1),
            ("bogus", 0, 0),
            ("1Zi", 0, 0),
            ("", 0, 0),
        ];
        for (text, v, m) in cases {
            let q = Quantity((*text).to_owned());
            assert_eq!((value(&q), milli_value(&q)), (*v, *m), "quantity {text:?}");
        }
    }
}
