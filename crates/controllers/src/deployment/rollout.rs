//! Deployment rollout arithmetic as pure functions over a snapshot of the Deployment's
//! ReplicaSets (upstream pkg/controller/deployment: rolling.go, recreate.go, sync.go's
//! proportional scaling, deployment_util's fenceposts): each returns the replica counts to set.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// One ReplicaSet of a Deployment, as the arithmetic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rs {
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// Creation time in seconds (older first when scaling old sets down).
    pub created: i64,
    /// The `max-replicas` annotation it was last scaled with, if any.
    pub max_replicas: Option<i32>,
}

/// A scaling decision: set `name` to `replicas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub name: String,
    pub replicas: i32,
}

/// Upstream's GetScaledValueFromIntOrPercent: percentages of `total`, rounded up or down.
pub fn scaled_value(v: Option<&IntOrString>, total: i32, round_up: bool, default: &str) -> i32 {
    let parse = |s: &str| -> Option<i32> {
        let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
        let num = pct * i64::from(total);
        Some(if round_up {
            (num + 99).div_euclid(100)
        } else {
            num.div_euclid(100)
        } as i32)
    };
    match v {
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => parse(s).unwrap_or(0),
        None => parse(default).unwrap_or(0),
    }
}

/// maxSurge and maxUnavailable resolved for `replicas` (surge rounds up, unavailable down; both
/// zero makes unavailable 1), upstream's ResolveFenceposts.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> (i32, i32) {
    let surge = scaled_value(max_surge, replicas, true, "25%");
    let unavailable = scaled_value(max_unavailable, replicas, false, "25%");
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The new ReplicaSet's replicas in a rolling update (upstream NewRSNewReplicas).
pub fn new_rs_replicas(replicas: i32, surge: i32, new: &Rs, all: &[Rs]) -> i32 {
    let current: i32 = all.iter().map(|r| r.replicas).sum();
    let max_total = replicas + surge;
    if current >= max_total {
        return new.replicas;
    }
    let up = (max_total - current).min(replicas - new.replicas).max(0);
    new.replicas + up
}

/// One rolling-update step: scale the new set up first; when it cannot move, scale old sets down
/// (unhealthy first, then oldest first) as far as maxUnavailable allows.
pub fn rolling_step(
    replicas: i32,
    surge: i32,
    unavailable: i32,
    new: &Rs,
    old: &[Rs],
) -> Vec<Scale> {
    let mut all: Vec<Rs> = old.to_vec();
    all.push(new.clone());
    let target = if new.replicas > replicas {
        replicas
    } else {
        new_rs_replicas(replicas, surge, new, &all)
    };
    if target != new.replicas {
        return vec![Scale {
            name: new.name.clone(),
            replicas: target,
        }];
    }
    scale_down_old(replicas, unavailable, new, old)
}

fn scale_down_old(replicas: i32, unavailable: i32, new: &Rs, old: &[Rs]) -> Vec<Scale> {
    let old_count: i32 = old.iter().map(|r| r.replicas).sum();
    if old_count == 0 {
        return Vec::new();
    }
    let all_count = old_count + new.replicas;
    let min_available = replicas - unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_count - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut sorted: Vec<Rs> = old.to_vec();
    sorted.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    // Unhealthy replicas first.
    let mut budget = max_scaled_down;
    for rs in sorted.iter_mut() {
        if budget <= 0 {
            break;
        }
        let unhealthy = (rs.replicas - rs.available).max(0);
        let cut = unhealthy.min(budget);
        rs.replicas -= cut;
        budget -= cut;
    }
    // Then available ones, down to minAvailable.
    let available: i32 = sorted
        .iter()
        .map(|r| r.available.min(r.replicas))
        .sum::<i32>()
        + new.available;
    let mut total_down = (available - min_available).max(0);
    for rs in sorted.iter_mut() {
        if total_down <= 0 {
            break;
        }
        let cut = rs.replicas.min(total_down);
        rs.replicas -= cut;
        total_down -= cut;
    }
    let mut out = Vec::new();
    for rs in sorted {
        if let Some(orig) = old.iter().find(|o| o.name == rs.name)
            && orig.replicas != rs.replicas
        {
            out.push(Scale {
                name: rs.name,
                replicas: rs.replicas,
            });
        }
    }
    out
}

/// Recreate: old sets to zero; once no old pod remains (`old_pods_running` false), the new set
/// to `replicas`.
pub fn recreate_step(replicas: i32, new: &Rs, old: &[Rs], old_pods_running: bool) -> Vec<Scale> {
    let down: Vec<Scale> = old
        .iter()
        .filter(|r| r.replicas != 0)
        .map(|r| Scale {
            name: r.name.clone(),
            replicas: 0,
        })
        .collect();
    if !down.is_empty() || old_pods_running {
        return down;
    }
    if new.replicas != replicas {
        vec![Scale {
            name: new.name.clone(),
            replicas,
        }]
    } else {
        Vec::new()
    }
}

/// Proportional scaling when `spec.replicas` changed mid-rollout (upstream DeploymentController.scale):
/// the extra or missing replicas are shared among the active sets in proportion to their size.
pub fn proportional(replicas: i32, surge: i32, new: Option<&Rs>, old: &[Rs]) -> Vec<Scale> {
    let mut active: Vec<Rs> = old.iter().filter(|r| r.replicas > 0).cloned().collect();
    if let Some(n) = new.filter(|n| n.replicas > 0) {
        active.push(n.clone());
    }
    if active.len() <= 1 {
        let only = active.first().cloned().or_else(|| new.cloned());
        return match only {
            Some(rs) if rs.replicas != replicas => vec![Scale {
                name: rs.name,
                replicas,
            }],
            _ => Vec::new(),
        };
    }
    if let Some(n) = new
        && n.replicas == replicas
        && n.available == replicas
    {
        return old
            .iter()
            .filter(|r| r.replicas != 0)
            .map(|r| Scale {
                name: r.name.clone(),
                replicas: 0,
            })
            .collect();
    }
    let allowed = replicas + surge;
    let current: i32 = active.iter().map(|r| r.replicas).sum();
    let to_add = allowed - current;
    if to_add == 0 {
        return Vec::new();
    }
    // Largest first; ties: newer first when growing, older first when shrinking.
    active.sort_by(|a, b| {
        b.replicas.cmp(&a.replicas).then(if to_add > 0 {
            b.created.cmp(&a.created)
        } else {
            a.created.cmp(&b.created)
        })
    });
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
    for rs in &active {
        let annotated = rs.max_replicas.unwrap_or(current).max(1);
        let fraction = if replicas == 0 {
            -rs.replicas
        } else {
            let wanted = (i64::from(rs.replicas) * i64::from(allowed) + i64::from(annotated) - 1)
                / i64::from(annotated);
            wanted as i32 - rs.replicas
        };
        let left = to_add - added;
        let p = if to_add > 0 {
            fraction.min(left)
        } else {
            fraction.max(left)
        };
        added += p;
        sizes.push(rs.replicas + p);
    }
    if let Some(first) = sizes.first_mut() {
        *first = (*first + to_add - added).max(0);
    }
    active
        .iter()
        .zip(sizes)
        .filter(|(rs, n)| rs.replicas != *n)
        .map(|(rs, n)| Scale {
            name: rs.name.clone(),
            replicas: n.max(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, replicas: i32, available: i32, created: i64) -> Rs {
        Rs {
            name: name.into(),
            replicas,
            available,
            created,
            max_replicas: None,
        }
    }

    fn scale(name: &str, replicas: i32) -> Scale {
        Scale {
            name: name.into(),
            replicas,
        }
    }

    #[test]
    fn fencepost_table() {
        let pct = |s: &str| IntOrString::String(s.into());
        let cases = [
            (None, None, 10, (3, 2)),
            (Some(pct("25%")), Some(pct("25%")), 4, (1, 1)),
            (Some(pct("10%")), Some(pct("10%")), 5, (1, 0)),
            (
                Some(IntOrString::Int(0)),
                Some(IntOrString::Int(0)),
                5,
                (0, 1),
            ),
            (Some(IntOrString::Int(2)), Some(pct("50%")), 3, (2, 1)),
        ];
        for (surge, unavailable, replicas, want) in cases {
            assert_eq!(
                fenceposts(surge.as_ref(), unavailable.as_ref(), replicas),
                want,
                "{surge:?} {unavailable:?} {replicas}"
            );
        }
    }

    #[test]
    fn rolling_table() {
        // (replicas, surge, unavailable, new, old, expected)
        let cases = vec![
            // Fresh rollout: new set scales up by surge first.
            (
                3,
                1,
                0,
                rs("n", 0, 0, 2),
                vec![rs("o", 3, 3, 1)],
                vec![scale("n", 1)],
            ),
            // New set cannot grow (at max total): old scaled down by what is available above min.
            (
                3,
                1,
                0,
                rs("n", 1, 1, 2),
                vec![rs("o", 3, 3, 1)],
                vec![scale("o", 2)],
            ),
            // New pods not yet available: nothing can go.
            (3, 1, 0, rs("n", 1, 0, 2), vec![rs("o", 3, 3, 1)], vec![]),
            // Unhealthy old replicas are removed first, even below availability.
            (
                3,
                1,
                1,
                rs("n", 1, 0, 2),
                vec![rs("o", 3, 1, 1)],
                vec![scale("o", 2)],
            ),
            // Done: nothing.
            (3, 1, 0, rs("n", 3, 3, 2), vec![rs("o", 0, 0, 1)], vec![]),
            // Oldest old set first.
            (
                2,
                0,
                1,
                rs("n", 2, 2, 3),
                vec![rs("b", 1, 1, 2), rs("a", 1, 1, 1)],
                vec![scale("a", 0), scale("b", 0)],
            ),
            // New set above replicas: scale it down.
            (2, 1, 0, rs("n", 4, 4, 2), vec![], vec![scale("n", 2)]),
        ];
        for (i, (replicas, surge, unavailable, new, old, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                rolling_step(replicas, surge, unavailable, &new, &old),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn recreate_table() {
        let new = rs("n", 0, 0, 2);
        assert_eq!(
            recreate_step(3, &new, &[rs("o", 3, 3, 1)], true),
            vec![scale("o", 0)]
        );
        assert_eq!(recreate_step(3, &new, &[rs("o", 0, 0, 1)], true), vec![]);
        assert_eq!(
            recreate_step(3, &new, &[rs("o", 0, 0, 1)], false),
            vec![scale("n", 3)]
        );
    }

    #[test]
    fn proportional_table() {
        // Only one active set: it takes the new size.
        assert_eq!(
            proportional(5, 1, Some(&rs("n", 3, 3, 2)), &[rs("o", 0, 0, 1)]),
            vec![scale("n", 5)]
        );
        // Mid-rollout 10 -> 20 with surge 3: 13 -> 23, shared in proportion to size.
        let mut new = rs("n", 5, 0, 2);
        new.max_replicas = Some(13);
        let mut old = rs("o", 8, 8, 1);
        old.max_replicas = Some(13);
        let got = proportional(20, 5, Some(&new), &[old]);
        let total: i32 = got.iter().map(|s| s.replicas).sum();
        assert_eq!(total, 25);
        assert!(got.iter().any(|s| s.name == "o" && s.replicas > 8));
        // Saturated new set: old ones to zero.
        assert_eq!(
            proportional(3, 1, Some(&rs("n", 3, 3, 2)), &[rs("o", 1, 1, 1)]),
            vec![scale("o", 0)]
        );
    }
}
