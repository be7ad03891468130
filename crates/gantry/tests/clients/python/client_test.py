"""The official Kubernetes Python client (PyPI `kubernetes`) against a real gantry server.

Usage: python3 client_test.py KUBECONFIG

Run by `python_client` in crates/gantry/tests/clients/main.rs, which starts the server. Covers
create, get, list with label and field selectors, watch (a change made after the watch
started is seen as MODIFIED, a new object as ADDED, a removal as DELETED), strategic merge and
JSON merge patch, replace with a stale resourceVersion (409), delete, and a 404 raising
ApiException. Exits non-zero with a traceback on the first failed check; waits are bounded by
deadlines, never by sleeps.
"""

import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

DEADLINE_SECONDS = 30
NAMESPACE = "python"


def check(condition, message):
    """Fails the script with `message` when `condition` is false."""
    if not condition:
        raise AssertionError(message)


def expect_api_error(status, call, *args, **kwargs):
    """Runs `call` and checks that it raises ApiException with HTTP `status`."""
    try:
        call(*args, **kwargs)
    except ApiException as e:
        check(e.status == status, f"{call.__name__}: expected HTTP {status}, got {e.status}: {e.body}")
        return e
    raise AssertionError(f"{call.__name__} succeeded but should fail with HTTP {status}")


def configmap(name, labels, data):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def names(items):
    return sorted(item.metadata.name for item in items)


def crud_and_selectors(core):
    """Create, get, list with selectors, replace conflicts, 404s."""
    created = core.create_namespaced_config_map(NAMESPACE, configmap("web", {"app": "web", "tier": "front"}, {"k": "1"}))
    check(created.metadata.uid and created.metadata.resource_version, f"server-owned metadata missing: {created.metadata}")
    core.create_namespaced_config_map(NAMESPACE, configmap("api", {"app": "web", "tier": "back"}, {"k": "2"}))
    core.create_namespaced_config_map(NAMESPACE, configmap("db", {"app": "db"}, {"k": "3"}))
    expect_api_error(409, core.create_namespaced_config_map, NAMESPACE, configmap("db", {}, {}))

    got = core.read_namespaced_config_map("web", NAMESPACE)
    check(got.data == {"k": "1"}, f"read returned {got.data}")

    def listed(**selectors):
        return names(core.list_namespaced_config_map(NAMESPACE, **selectors).items)

    check(listed() == ["api", "db", "web"], f"list: {listed()}")
    check(listed(label_selector="app=web") == ["api", "web"], "label selector app=web")
    check(listed(label_selector="app=web,tier!=back") == ["web"], "label selector app=web,tier!=back")
    check(listed(label_selector="app in (db, cache)") == ["db"], "set-based label selector")
    check(listed(label_selector="!tier") == ["db"], "label selector !tier")
    check(listed(field_selector="metadata.name=api") == ["api"], "field selector metadata.name=api")
    everywhere = names(core.list_config_map_for_all_namespaces(label_selector="app=db").items)
    check(everywhere == ["db"], f"list across namespaces by label: {everywhere}")

    got.data = {"k": "changed"}
    core.replace_namespaced_config_map("web", NAMESPACE, got)
    got.data = {"k": "stale"}
    expect_api_error(409, core.replace_namespaced_config_map, "web", NAMESPACE, got)
    check(core.read_namespaced_config_map("web", NAMESPACE).data == {"k": "changed"}, "a rejected replace changed the object")

    e = expect_api_error(404, core.read_namespaced_config_map, "missing", NAMESPACE)
    check('"reason":"NotFound"' in e.body.replace(" ", ""), f"404 body is not a NotFound Status: {e.body}")
    expect_api_error(404, core.delete_namespaced_config_map, "missing", NAMESPACE)
    expect_api_error(404, core.read_namespace, "no-such-namespace")


def watching(core):
    """A watch started now sees a later change (MODIFIED), a creation (ADDED), a deletion."""
    start_rv = core.list_namespaced_config_map(NAMESPACE).metadata.resource_version
    events = []
    ready = threading.Event()
    done = threading.Event()
    wanted = {("MODIFIED", "web"), ("ADDED", "fresh"), ("DELETED", "fresh")}

    def run():
        w = watch.Watch()
        ready.set()
        try:
            for event in w.stream(core.list_namespaced_config_map, NAMESPACE, resource_version=start_rv,
                                  label_selector="app", timeout_seconds=DEADLINE_SECONDS, _request_timeout=DEADLINE_SECONDS + 5):
                obj = event["object"]
                events.append((event["type"], obj.metadata.name, dict(obj.data or {})))
                if wanted <= {(t, n) for t, n, _ in events}:
                    w.stop()
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    check(ready.wait(DEADLINE_SECONDS), "the watch thread did not start")
    # The watch starts from start_rv, so changes made from now on are seen however fast it connects.
    core.patch_namespaced_config_map("web", NAMESPACE, {"data": {"k": "watched"}})
    core.create_namespaced_config_map(NAMESPACE, configmap("fresh", {"app": "fresh"}, {"n": "1"}))
    core.delete_namespaced_config_map("fresh", NAMESPACE)
    check(done.wait(DEADLINE_SECONDS + 10), f"watch did not finish; events so far: {events}")
    seen = [(t, n) for t, n, _ in events]
    check(wanted <= set(seen), f"watch events {seen} lack some of {wanted}")
    check(seen.index(("ADDED", "fresh")) < seen.index(("DELETED", "fresh")), f"events out of order: {seen}")
    modified = [d for t, n, d in events if (t, n) == ("MODIFIED", "web")]
    check(modified[0] == {"k": "watched"}, f"MODIFIED carries {modified[0]}")


def patching(core, apps):
    """Strategic merge patch (containers by name) and JSON merge patch (replaces lists)."""
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox:1.36"}]}},
        },
    }
    created = apps.create_namespaced_deployment(NAMESPACE, deployment)
    check(created.spec.replicas == 1, "deployment created")

    smp = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}
    # The generated client sends application/strategic-merge-patch+json for a dict body.
    patched = apps.patch_namespaced_deployment("web", NAMESPACE, smp)
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    check(images == {"app": "nginx:1.27", "sidecar": "busybox:1.36"}, f"strategic merge patch gave {images}")
    check(patched.spec.replicas == 2 and patched.metadata.generation == 2, "strategic patch bumped replicas and generation")

    api_client = apps.api_client
    merge = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx:1.27"}]}}}}
    body, status, _ = api_client.call_api(
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/web", "PATCH",
        header_params={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
        body=merge, response_type="V1Deployment", auth_settings=["BearerToken"], _return_http_data_only=False)
    check(status == 200, f"merge patch status {status}")
    check([c.name for c in body.spec.template.spec.containers] == ["only"], "a merge patch replaces the container list")

    cm = core.patch_namespaced_config_map("api", NAMESPACE, {"metadata": {"labels": {"tier": None, "patched": "yes"}}})
    check(cm.metadata.labels == {"app": "web", "patched": "yes"}, f"null removes a label: {cm.metadata.labels}")


def deleting(core, apps):
    """Deletes return a Status or the object; the objects are then gone."""
    apps.delete_namespaced_deployment("web", NAMESPACE)
    core.delete_namespaced_config_map("db", NAMESPACE)
    expect_api_error(404, core.read_namespaced_config_map, "db", NAMESPACE)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while apps.list_namespaced_deployment(NAMESPACE).items:
        check(time.monotonic() < deadline, "the deployment was not deleted in time")
        time.sleep(0.05)  # back-off between polls; the condition decides when to go on
    check(names(core.list_namespaced_config_map(NAMESPACE).items) == ["api", "web"], "remaining configmaps")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: client_test.py KUBECONFIG")
    config.load_kube_config(config_file=sys.argv[1])
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    version = client.VersionApi().get_code()
    print(f"server version {version.git_version}")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    for step in (crud_and_selectors, watching, patching, deleting):
        started = time.monotonic()
        args = (core, apps) if step in (patching, deleting) else (core,)
        step(*args)
        print(f"ok {step.__name__} ({time.monotonic() - started:.2f}s)")
    print("all python client checks passed")


if __name__ == "__main__":
    main()
