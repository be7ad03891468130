//! Reservations: values an object holds exclusively across the cluster (service cluster IPs,
//! node ports). Each reserved value is a key of its own in the store, created (atomically,
//! fails if present) before the object is written and deleted after the object goes; a repair
//! pass at start removes reservations a crash left without an owner.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use bytes::Bytes;
use gantry_store::prefix_end;
use serde_json::Value;

use super::Storage;
use crate::error::{ApiError, ApiResult, FieldError, Subject};
use crate::registry::ResourceDef;
use crate::registry::strategy::{Pool, Reservation};

/// The ranges pools draw from.
#[derive(Clone, Debug)]
pub struct Pools {
    /// Service CIDR base address and prefix length.
    pub service_cidr: (Ipv4Addr, u8),
    /// Node port range, inclusive.
    pub node_ports: (u16, u16),
}

impl Default for Pools {
    fn default() -> Self {
        Pools {
            service_cidr: (Ipv4Addr::new(10, 43, 0, 0), 16),
            node_ports: (30000, 32767),
        }
    }
}

impl Pools {
    fn service_range(&self) -> (u32, u32) {
        let (base, prefix) = self.service_cidr;
        let size = 1u64 << (32 - u32::from(prefix.min(32)));
        let start = u32::from(base) & !((size - 1) as u32);
        (start, (u64::from(start) + size - 1) as u32)
    }

    /// Whether `value` belongs to `pool` (network, broadcast excluded for IPs).
    pub fn contains(&self, pool: Pool, value: &str) -> bool {
        match pool {
            Pool::ServiceIp => {
                let (start, end) = self.service_range();
                value
                    .parse::<Ipv4Addr>()
                    .map(u32::from)
                    .is_ok_and(|ip| ip > start && ip < end)
            }
            Pool::NodePort => value
                .parse::<u16>()
                .is_ok_and(|p| p >= self.node_ports.0 && p <= self.node_ports.1),
        }
    }

    /// A free value of `pool` not in `taken`, starting from a random point; `None` if full.
    pub fn pick(&self, pool: Pool, taken: &HashSet<String>) -> Option<String> {
        let (first, last) = match pool {
            // .1 is kept for the `kubernetes` service, as upstream does.
            Pool::ServiceIp => {
                let (start, end) = self.service_range();
                (start + 2, end.saturating_sub(1))
            }
            Pool::NodePort => (u32::from(self.node_ports.0), u32::from(self.node_ports.1)),
        };
        if last < first {
            return None;
        }
        let span = last - first + 1;
        let offset = u32::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..4]
                .try_into()
                .unwrap_or_default(),
        ) % span;
        (0..span)
            .map(|i| first + (offset + i) % span)
            .map(|n| render(pool, n))
            .find(|v| !taken.contains(v))
    }

    pub fn describe(&self, pool: Pool) -> String {
        match pool {
            Pool::ServiceIp => format!("{}/{}", self.service_cidr.0, self.service_cidr.1),
            Pool::NodePort => format!("{}-{}", self.node_ports.0, self.node_ports.1),
        }
    }
}

fn render(pool: Pool, n: u32) -> String {
    match pool {
        Pool::ServiceIp => Ipv4Addr::from(n).to_string(),
        Pool::NodePort => n.to_string(),
    }
}

fn pool_prefix(pool: Pool) -> &'static str {
    match pool {
        Pool::ServiceIp => "/registry/reservations/serviceips/",
        Pool::NodePort => "/registry/reservations/nodeports/",
    }
}

fn key(r: &Reservation) -> String {
    format!("{}{}", pool_prefix(r.pool), r.value)
}

fn unique(list: Vec<Reservation>) -> Vec<Reservation> {
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|r| seen.insert((r.pool, r.value.clone())))
        .collect()
}

fn invalid(subject: &Subject, r: &Reservation, pools: &Pools, taken: bool) -> ApiError {
    let what = if r.pool == Pool::ServiceIp {
        "IP"
    } else {
        "port"
    };
    let shown = if r.pool == Pool::ServiceIp {
        format!("\"{}\"", r.value)
    } else {
        r.value.clone()
    };
    let message = if taken {
        format!("Invalid value: {shown}: provided {what} is already allocated")
    } else {
        format!(
            "Invalid value: {shown}: provided {what} is not in the valid range. The range of valid {what}s is {}",
            pools.describe(r.pool)
        )
    };
    ApiError::Invalid(
        subject.clone(),
        vec![FieldError::invalid(r.field.clone(), message)],
    )
}

impl Storage {
    async fn taken(&self, pool: Pool) -> ApiResult<HashSet<String>> {
        let prefix = pool_prefix(pool);
        let page = self
            .store
            .range(prefix, &prefix_end(prefix), 0, 0)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(page
            .kvs
            .into_iter()
            .map(|kv| kv.key[prefix.len()..].to_string())
            .collect())
    }

    /// Assigns pool values to `obj`'s empty fields and reserves every value it holds that
    /// `old` did not. Returns the reservations made (to release if the write fails).
    pub(crate) async fn reserve(
        &self,
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
        owner: &str,
        subject: &Subject,
        dry_run: bool,
    ) -> ApiResult<Vec<Reservation>> {
        if !def.strategy.uses_pools() {
            return Ok(Vec::new());
        }
        let held: HashSet<(Pool, String)> = old
            .map(|o| def.strategy.reservations(o))
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.pool, r.value))
            .collect();
        let mut taken = std::collections::HashMap::new();
        for pool in [Pool::ServiceIp, Pool::NodePort] {
            taken.insert(pool, self.taken(pool).await?);
        }
        let mut exhausted = None;
        def.strategy.assign(obj, old, &mut |pool| {
            let set = taken.get_mut(&pool)?;
            let value = self.pools.pick(pool, set);
            match &value {
                Some(v) => {
                    set.insert(v.clone());
                }
                None => exhausted = Some(pool),
            }
            value
        });
        if let Some(pool) = exhausted {
            return Err(ApiError::Internal(format!(
                "no free value left in {}",
                self.pools.describe(pool)
            )));
        }
        let wanted: Vec<Reservation> = unique(def.strategy.reservations(obj))
            .into_iter()
            .filter(|r| !held.contains(&(r.pool, r.value.clone())))
            .collect();
        for r in &wanted {
            if !self.pools.contains(r.pool, &r.value) {
                return Err(invalid(subject, r, &self.pools, false));
            }
        }
        if dry_run {
            return Ok(Vec::new());
        }
        let mut made = Vec::new();
        for r in wanted {
            match self
                .store
                .create(&key(&r), Bytes::from(owner.to_string()))
                .await
            {
                Ok(_) => made.push(r),
                Err(e) => {
                    self.release(&made).await;
                    return Err(match e {
                        gantry_store::StoreError::AlreadyExists { .. } => {
                            invalid(subject, &r, &self.pools, true)
                        }
                        other => ApiError::Internal(other.to_string()),
                    });
                }
            }
        }
        Ok(made)
    }

    /// Gives reserved values back (after the object holding them was deleted or changed).
    pub(crate) async fn release(&self, reservations: &[Reservation]) {
        for r in reservations {
            if let Err(e) = self.store.delete(&key(r), None).await {
                if !matches!(e, gantry_store::StoreError::NotFound { .. }) {
                    tracing::warn!("releasing {}: {e}", key(r));
                }
            }
        }
    }

    /// Reservations `old` held that `new` (None: deleted) no longer does.
    pub(crate) async fn release_dropped(
        &self,
        def: &ResourceDef,
        old: &Value,
        new: Option<&Value>,
    ) {
        if !def.strategy.uses_pools() {
            return;
        }
        let kept: HashSet<(Pool, String)> = new
            .map(|n| def.strategy.reservations(n))
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.pool, r.value))
            .collect();
        let dropped: Vec<Reservation> = unique(def.strategy.reservations(old))
            .into_iter()
            .filter(|r| !kept.contains(&(r.pool, r.value.clone())))
            .collect();
        self.release(&dropped).await;
    }

    /// Removes reservations whose owner is gone or no longer holds the value (left by a crash
    /// between reserving and writing the object).
    pub async fn repair_reservations(&self) -> ApiResult<usize> {
        let mut removed = 0;
        for pool in [Pool::ServiceIp, Pool::NodePort] {
            let prefix = pool_prefix(pool);
            let page = self
                .store
                .range(prefix, &prefix_end(prefix), 0, 0)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            for kv in page.kvs {
                let value = &kv.key[prefix.len()..];
                let owner_key = String::from_utf8_lossy(&kv.value).to_string();
                let (owner, _) = self
                    .store
                    .get(&owner_key)
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let still_held = owner.is_some_and(|o| {
                    let obj: Value = serde_json::from_slice(&o.value).unwrap_or_default();
                    self.all_defs().iter().any(|d| {
                        owner_key.starts_with(&d.key_prefix())
                            && d.strategy
                                .reservations(&obj)
                                .iter()
                                .any(|r| r.pool == pool && r.value == value)
                    })
                });
                if !still_held
                    && self
                        .store
                        .delete(&kv.key, Some(kv.mod_revision))
                        .await
                        .is_ok()
                {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_table() {
        let pools = Pools::default();
        let cases = [
            (Pool::ServiceIp, "10.43.0.5", true),
            (Pool::ServiceIp, "10.43.255.254", true),
            (Pool::ServiceIp, "10.43.0.0", false),
            (Pool::ServiceIp, "10.43.255.255", false),
            (Pool::ServiceIp, "10.44.0.1", false),
            (Pool::ServiceIp, "not-an-ip", false),
            (Pool::NodePort, "30000", true),
            (Pool::NodePort, "32767", true),
            (Pool::NodePort, "29999", false),
            (Pool::NodePort, "80", false),
        ];
        for (pool, value, want) in cases {
            assert_eq!(pools.contains(pool, value), want, "{pool:?} {value}");
        }
    }

    #[test]
    fn picking_skips_taken_values_and_the_kubernetes_ip() {
        let pools = Pools {
            service_cidr: (Ipv4Addr::new(10, 43, 0, 0), 29),
            node_ports: (30000, 30001),
        };
        let mut taken = HashSet::new();
        let mut got = Vec::new();
        while let Some(ip) = pools.pick(Pool::ServiceIp, &taken) {
            taken.insert(ip.clone());
            got.push(ip);
        }
        got.sort();
        assert_eq!(
            got,
            vec![
                "10.43.0.2",
                "10.43.0.3",
                "10.43.0.4",
                "10.43.0.5",
                "10.43.0.6"
            ]
        );
        let taken: HashSet<String> = ["30000".to_string()].into();
        assert_eq!(pools.pick(Pool::NodePort, &taken).as_deref(), Some("30001"));
    }
}
