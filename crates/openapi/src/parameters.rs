//! The catalog of path and query parameters Kubernetes operations take.

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
}

/// A non-body parameter. Types are the OpenAPI primitive names.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub location: Location,
    pub ty: &'static str,
    pub description: &'static str,
}

impl Param {
    const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Self {
        Param {
            name,
            location: Location::Query,
            ty,
            description,
        }
    }

    const fn path(name: &'static str, description: &'static str) -> Self {
        Param {
            name,
            location: Location::Path,
            ty: "string",
            description,
        }
    }
}

pub(crate) static NAME: Param = Param::path("name", "name of the object");
pub(crate) static NAMESPACE: Param = Param::path(
    "namespace",
    "object name and auth scope, such as for teams and projects",
);
pub(crate) static PRETTY: Param = Param::query(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
);

static ALLOW_WATCH_BOOKMARKS: Param = Param::query(
    "allowWatchBookmarks",
    "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
);
static CONTINUE: Param = Param::query(
    "continue",
    "string",
    "The continue option should be set when retrieving more results from the server. The value comes from the metadata.continue of a previous list response.",
);
static FIELD_SELECTOR: Param = Param::query(
    "fieldSelector",
    "string",
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
static LABEL_SELECTOR: Param = Param::query(
    "labelSelector",
    "string",
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
static LIMIT: Param = Param::query(
    "limit",
    "integer",
    "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.",
);
static RESOURCE_VERSION: Param = Param::query(
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset.",
);
static RESOURCE_VERSION_MATCH: Param = Param::query(
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls. Defaults to unset.",
);
static SEND_INITIAL_EVENTS: Param = Param::query(
    "sendInitialEvents",
    "boolean",
    "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection.",
);
static TIMEOUT_SECONDS: Param = Param::query(
    "timeoutSeconds",
    "integer",
    "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
);
static WATCH: Param = Param::query(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
);
static DRY_RUN: Param = Param::query(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
static FIELD_MANAGER: Param = Param::query(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
);
static FIELD_VALIDATION: Param = Param::query(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present.",
);
static FORCE: Param = Param::query(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
static GRACE_PERIOD_SECONDS: Param = Param::query(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.",
);
static IGNORE_STORE_READ_ERROR: Param = Param::query(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "boolean",
    "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
);
static ORPHAN_DEPENDENTS: Param = Param::query(
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned.",
);
static PROPAGATION_POLICY: Param = Param::query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
);
static CONTAINER: Param = Param::query(
    "container",
    "string",
    "The container for which to stream logs. Defaults to only container if there is one container in the pod.",
);
static FOLLOW: Param = Param::query(
    "follow",
    "boolean",
    "Follow the log stream of the pod. Defaults to false.",
);
static TAIL_LINES: Param = Param::query(
    "tailLines",
    "integer",
    "If set, the number of lines from the end of the logs to show.",
);

/// Query parameters of list (and watch) operations.
pub(crate) static LIST: &[&Param] = &[
    &ALLOW_WATCH_BOOKMARKS,
    &CONTINUE,
    &FIELD_SELECTOR,
    &LABEL_SELECTOR,
    &LIMIT,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT_SECONDS,
    &WATCH,
];

/// Query parameters of create and replace operations.
pub(crate) static WRITE: &[&Param] = &[&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];

/// Query parameters of patch operations.
pub(crate) static PATCH: &[&Param] = &[&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION, &FORCE];

/// Query parameters of delete operations.
pub(crate) static DELETE: &[&Param] = &[
    &DRY_RUN,
    &GRACE_PERIOD_SECONDS,
    &IGNORE_STORE_READ_ERROR,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
];

/// Query parameters of deletecollection operations.
pub(crate) static DELETE_COLLECTION: &[&Param] = &[
    &CONTINUE,
    &DRY_RUN,
    &FIELD_SELECTOR,
    &GRACE_PERIOD_SECONDS,
    &IGNORE_STORE_READ_ERROR,
    &LABEL_SELECTOR,
    &LIMIT,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT_SECONDS,
];

/// Query parameters of the pod log subresource.
pub(crate) static LOG: &[&Param] = &[&CONTAINER, &FOLLOW, &TAIL_LINES];
