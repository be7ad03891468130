//! The built-in resources: one registration line each.

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
    coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
    events::v1 as events, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    storage::v1 as storage,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;

use crate::crd::strategy::CrdStrategy;

use super::strategies::core::{
    DataStrategy, EventStrategy, NamespaceStrategy, NodeStrategy, ServiceStrategy, VolumeStrategy,
};
use super::strategies::pod::PodStrategy;
use super::strategies::workload::{Workload, WorkloadStrategy};
use super::strategy::{AnyName, Plain, WithStatus};
use super::{Names, Registry};

const STATUS: &[&str] = &["status"];
const SCALABLE: &[&str] = &["status", "scale"];
const ALL: &[&str] = &["all"];

fn names(
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Names {
    Names {
        short_names,
        categories,
        subresources,
    }
}

pub fn register(r: &mut Registry) {
    r.add::<core::Namespace>(
        names(&["ns"], &[], &["status", "finalize"]),
        NamespaceStrategy,
    );
    r.add::<core::Pod>(
        names(
            &["po"],
            ALL,
            &[
                "status",
                "binding",
                "eviction",
                "log",
                "exec",
                "attach",
                "portforward",
            ],
        ),
        PodStrategy,
    );
    r.add::<core::Service>(names(&["svc"], ALL, STATUS), ServiceStrategy);
    r.add::<core::Endpoints>(names(&["ep"], &[], &[]), Plain);
    r.add::<core::ConfigMap>(names(&["cm"], &[], &[]), DataStrategy { secret: false });
    r.add::<core::Secret>(names(&[], &[], &[]), DataStrategy { secret: true });
    r.add::<core::Node>(names(&["no"], &[], &["status", "proxy"]), NodeStrategy);
    r.add::<core::Event>(names(&["ev"], &[], &[]), EventStrategy);
    r.add::<core::ServiceAccount>(names(&["sa"], &[], &["token"]), Plain);
    r.add::<core::PersistentVolume>(names(&["pv"], &[], STATUS), VolumeStrategy);
    r.add::<core::PersistentVolumeClaim>(names(&["pvc"], &[], STATUS), VolumeStrategy);
    r.add::<core::ResourceQuota>(names(&["quota"], &[], STATUS), WithStatus);
    r.add::<core::LimitRange>(names(&["limits"], &[], &[]), Plain);
    r.add::<core::PodTemplate>(names(&[], &[], &[]), Plain);
    r.add::<core::ReplicationController>(
        names(&["rc"], ALL, SCALABLE),
        WorkloadStrategy(Workload::ReplicationController),
    );
    r.add::<apps::Deployment>(
        names(&["deploy"], ALL, SCALABLE),
        WorkloadStrategy(Workload::Deployment),
    );
    r.add::<apps::ReplicaSet>(
        names(&["rs"], ALL, SCALABLE),
        WorkloadStrategy(Workload::ReplicaSet),
    );
    r.add::<apps::StatefulSet>(
        names(&["sts"], ALL, SCALABLE),
        WorkloadStrategy(Workload::StatefulSet),
    );
    r.add::<apps::DaemonSet>(
        names(&["ds"], ALL, STATUS),
        WorkloadStrategy(Workload::DaemonSet),
    );
    r.add::<apps::ControllerRevision>(names(&[], &[], &[]), Plain);
    r.add::<batch::Job>(names(&[], ALL, STATUS), WorkloadStrategy(Workload::Job));
    r.add::<batch::CronJob>(
        names(&["cj"], ALL, STATUS),
        WorkloadStrategy(Workload::CronJob),
    );
    r.add::<coordination::Lease>(names(&[], &[], &[]), Plain);
    r.add::<discovery::EndpointSlice>(names(&[], &[], &[]), Plain);
    r.add::<networking::Ingress>(names(&["ing"], &[], STATUS), WithStatus);
    r.add::<networking::IngressClass>(names(&[], &[], &[]), Plain);
    r.add::<networking::NetworkPolicy>(names(&["netpol"], &[], &[]), Plain);
    r.add::<events::Event>(names(&["ev"], &[], &[]), EventStrategy);
    r.view_last(&super::view::EVENTS_V1);
    r.add::<storage::StorageClass>(names(&["sc"], &[], &[]), Plain);
    r.add::<rbac::Role>(names(&[], &[], &[]), AnyName);
    r.add::<rbac::RoleBinding>(names(&[], &[], &[]), AnyName);
    r.add::<rbac::ClusterRole>(names(&[], &[], &[]), AnyName);
    r.add::<rbac::ClusterRoleBinding>(names(&[], &[], &[]), AnyName);
    r.add::<policy::PodDisruptionBudget>(names(&["pdb"], &[], STATUS), WithStatus);
    r.add::<autoscaling::HorizontalPodAutoscaler>(names(&["hpa"], ALL, STATUS), WithStatus);
    r.add::<apiextensions::CustomResourceDefinition>(
        names(&["crd", "crds"], &[], STATUS),
        CrdStrategy,
    );
}
