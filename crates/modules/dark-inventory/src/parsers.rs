//! Discovery batches from formats users already have:
//!
//! - `aws-config`: AWS Config's resource lists — the output of
//!   `aws configservice select-resource-config` (`Results`, each a JSON
//!   string), of `list-discovered-resources` (`resourceIdentifiers`), or a
//!   configuration snapshot (`configurationItems`);
//! - `kubectl`: `kubectl get ingress,svc -A -o json` (a `List`, or one
//!   object): an ingress gives one resource per host; a `LoadBalancer`
//!   service gives one; other services are internal and give none;
//! - `semantic-diff`: tenet's own report (`tenet diff --format json`,
//!   `tenet.report/v1`): each `operation.added` is an API operation that
//!   may have no owner.
//!
//! Each gives a [`Batch`] in the `POST /v1/discoveries` format, with the
//! attributes the pack's rules read (`arn`, `name`, `account_id`,
//! `hostname`, `internet_facing`, `method`, `path`, `service`...).

use crate::model::{Batch, Discovered};
use serde_json::{json, Map, Value};

/// A format [`parse`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    AwsConfig,
    Kubectl,
    SemanticDiff,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["aws-config", "kubectl", "semantic-diff"];

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "aws-config" => Some(Format::AwsConfig),
            "kubectl" => Some(Format::Kubectl),
            "semantic-diff" => Some(Format::SemanticDiff),
            _ => None,
        }
    }
}

/// What the batch is about, beyond what the document says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub source: String,
    pub run: String,
    pub at: Option<i64>,
    pub tenant: Option<String>,
    /// `kubectl`: the cluster the objects come from.
    pub cluster: Option<String>,
    /// `semantic-diff`: the service that owns the API (default: the
    /// artifact's path).
    pub service: Option<String>,
}

/// Reads `input` (JSON) as `format`; an error says what was expected.
pub fn parse(format: Format, input: &[u8], opts: &Options) -> Result<Batch, String> {
    let doc: Value = serde_json::from_slice(input).map_err(|e| format!("not JSON: {e}"))?;
    let resources = match format {
        Format::AwsConfig => aws_config(&doc)?,
        Format::Kubectl => kubectl(&doc, opts.cluster.as_deref())?,
        Format::SemanticDiff => semantic_diff(&doc, opts.service.as_deref())?,
    };
    Ok(Batch {
        source: opts.source.clone(),
        run: opts.run.clone(),
        at: opts.at,
        tenant: opts.tenant.clone(),
        resources,
    })
}

fn str_of<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str))
}

/// `AWS::S3::Bucket` → `aws:s3:bucket`, with the names the pack uses for
/// the types it knows.
pub fn aws_type(t: &str) -> String {
    match t {
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => "aws:elbv2:load-balancer".into(),
        "AWS::RDS::DBInstance" => "aws:rds:db-instance".into(),
        other => other.to_ascii_lowercase().replace("::", ":"),
    }
}

fn aws_config(doc: &Value) -> Result<Vec<Discovered>, String> {
    let items: Vec<Value> = if let Some(results) = doc.get("Results").and_then(Value::as_array) {
        results
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Value::String(s) => serde_json::from_str(s)
                    .map_err(|e| format!("Results[{i}] is not a JSON object in a string: {e}")),
                Value::Object(_) => Ok(r.clone()),
                _ => Err(format!(
                    "Results[{i}] is neither a JSON string nor an object"
                )),
            })
            .collect::<Result<_, _>>()?
    } else if let Some(ids) = doc.get("resourceIdentifiers").and_then(Value::as_array) {
        ids.clone()
    } else if let Some(items) = doc.get("configurationItems").and_then(Value::as_array) {
        items.clone()
    } else {
        return Err("an AWS Config resource list has `Results` (select-resource-config), `resourceIdentifiers` (list-discovered-resources) or `configurationItems` (a snapshot)".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let Some(rt) = str_of(it, &["resourceType"]) else {
            return Err(format!("resource {i} has no `resourceType`"));
        };
        if it.get("resourceDeletionTime").is_some() {
            continue; // listed as deleted: not in the estate
        }
        let ty = aws_type(rt);
        let id = str_of(it, &["resourceId"]).unwrap_or_default();
        let name = str_of(it, &["resourceName"]).unwrap_or(id);
        let mut a = Map::new();
        let arn = str_of(it, &["arn", "ARN"]).map(str::to_string).or_else(|| {
            (rt == "AWS::S3::Bucket" && !name.is_empty()).then(|| format!("arn:aws:s3:::{name}"))
        });
        if let Some(arn) = &arn {
            a.insert("arn".into(), json!(arn));
        }
        a.insert("name".into(), json!(name));
        a.insert("resource_id".into(), json!(id));
        let account = str_of(it, &["accountId", "awsAccountId"]);
        let region = str_of(it, &["awsRegion"]);
        if let Some(acc) = account {
            a.insert("account_id".into(), json!(acc));
        }
        if let Some(r) = region {
            a.insert("region".into(), json!(r));
        }
        if let Some(tags) = it.get("tags") {
            let mut m = Map::new();
            match tags {
                Value::Array(l) => {
                    for t in l {
                        if let (Some(k), Some(v)) =
                            (str_of(t, &["key", "Key"]), str_of(t, &["value", "Value"]))
                        {
                            m.insert(k.into(), json!(v));
                        }
                    }
                }
                Value::Object(o) => m.extend(o.clone()),
                _ => {}
            }
            a.insert("tags".into(), Value::Object(m));
        }
        let config = it.get("configuration");
        if let Some(pab) = it
            .get("supplementaryConfiguration")
            .and_then(|s| s.get("PublicAccessBlockConfiguration"))
        {
            let flags = [
                "blockPublicAcls",
                "ignorePublicAcls",
                "blockPublicPolicy",
                "restrictPublicBuckets",
            ];
            let blocked = flags
                .iter()
                .any(|f| pab.get(*f).and_then(Value::as_bool) == Some(true));
            a.insert("public".into(), json!(!blocked));
        }
        if let Some(c) = config {
            if let Some(scheme) = c.get("scheme").and_then(Value::as_str) {
                a.insert("internet_facing".into(), json!(scheme == "internet-facing"));
            }
            if let Some(dns) = str_of(c, &["dNSName", "dnsName"]) {
                a.insert("hostname".into(), json!(dns));
            }
        }
        out.push(Discovered {
            ty,
            key: arn,
            attributes: a,
            seen_at: match (account, region) {
                (Some(acc), Some(r)) => Some(format!("{acc}/{r}")),
                (Some(acc), None) => Some(acc.to_string()),
                _ => None,
            },
            lineage: Vec::new(),
        });
    }
    Ok(out)
}

/// Annotations that make a load balancer internal, by controller.
const INTERNAL: &[(&str, &str)] = &[
    ("alb.ingress.kubernetes.io/scheme", "internal"),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        "internal",
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        "true",
    ),
    ("networking.gke.io/load-balancer-type", "Internal"),
    ("cloud.google.com/load-balancer-type", "Internal"),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        "true",
    ),
];

fn internal(obj: &Value) -> bool {
    let ann = obj.pointer("/metadata/annotations");
    INTERNAL.iter().any(|(k, v)| {
        ann.and_then(|a| a.get(*k))
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(v))
    })
}

fn kubectl(doc: &Value, cluster: Option<&str>) -> Result<Vec<Discovered>, String> {
    let items: Vec<&Value> = match doc.get("kind").and_then(Value::as_str) {
        Some("List") => doc
            .get("items")
            .and_then(Value::as_array)
            .ok_or("a `List` without `items`")?
            .iter()
            .collect(),
        Some(_) => vec![doc],
        None => return Err("a Kubernetes object or `List` has a `kind`".into()),
    };
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let kind = it.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = it
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ns = it
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        if name.is_empty() {
            return Err(format!("items[{i}] ({kind}) has no `metadata.name`"));
        }
        let seen_at = Some(match cluster {
            Some(c) => format!("{c}/{ns}/{kind}/{name}"),
            None => format!("{ns}/{kind}/{name}"),
        });
        let lb: Vec<String> = it
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|x| str_of(x, &["hostname", "ip"]).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut base = Map::new();
        base.insert("name".into(), json!(name));
        base.insert("namespace".into(), json!(ns));
        if let Some(c) = cluster {
            base.insert("cluster".into(), json!(c));
        }
        if let Some(labels) = it.pointer("/metadata/labels") {
            base.insert("labels".into(), labels.clone());
        }
        base.insert("internet_facing".into(), json!(!internal(it)));
        if let Some(l) = lb.first() {
            base.insert("lb_hostname".into(), json!(l));
        }
        match kind {
            "Ingress" => {
                let mut hosts: Vec<&str> = it
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(|x| str_of(x, &["host"])).collect())
                    .unwrap_or_default();
                hosts.sort_unstable();
                hosts.dedup();
                for h in hosts {
                    let mut a = base.clone();
                    a.insert("hostname".into(), json!(h));
                    out.push(Discovered {
                        ty: "k8s:ingress".into(),
                        key: None,
                        attributes: a,
                        seen_at: seen_at.clone(),
                        lineage: Vec::new(),
                    });
                }
            }
            "Service" => {
                let ty = it
                    .pointer("/spec/type")
                    .and_then(Value::as_str)
                    .unwrap_or("ClusterIP");
                if ty != "LoadBalancer" {
                    continue;
                }
                let Some(host) = lb.first() else { continue }; // not provisioned yet
                let mut a = base.clone();
                a.insert("hostname".into(), json!(host));
                out.push(Discovered {
                    ty: "k8s:service".into(),
                    key: None,
                    attributes: a,
                    seen_at,
                    lineage: Vec::new(),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

fn semantic_diff(doc: &Value, service: Option<&str>) -> Result<Vec<Discovered>, String> {
    match doc.get("schema").and_then(Value::as_str) {
        Some(s) if s.starts_with("tenet.report/") => {}
        _ => {
            return Err(
                "a semantic diff report has `schema: tenet.report/v1` (`tenet diff --format json`)"
                    .into(),
            )
        }
    }
    let changes = doc
        .get("changes")
        .and_then(Value::as_array)
        .ok_or("the report has no `changes`")?;
    let repo = doc.get("repository").and_then(Value::as_str);
    let head = doc.get("head").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for c in changes {
        if c.get("kind").and_then(Value::as_str) != Some("operation.added") {
            continue;
        }
        let path = c.get("path").and_then(Value::as_str).unwrap_or_default();
        let Some((method, route)) = path.split_once(' ') else {
            return Err(format!("operation path `{path}` is not `METHOD /path`"));
        };
        let artifact = c
            .get("artifact")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let svc = service.unwrap_or(artifact);
        let mut a = Map::new();
        a.insert("service".into(), json!(svc));
        a.insert("method".into(), json!(method.to_ascii_uppercase()));
        a.insert("path".into(), json!(route));
        a.insert("artifact".into(), json!(artifact));
        if let Some(fp) = c.get("fingerprint").and_then(Value::as_str) {
            a.insert("change".into(), json!(fp));
        }
        out.push(Discovered {
            ty: "api:operation".into(),
            key: None,
            attributes: a,
            seen_at: Some(match repo {
                Some(r) => format!("{r}@{head}:{artifact}"),
                None => format!("{head}:{artifact}"),
            }),
            lineage: vec![format!("added in {head}")],
        });
    }
    Ok(out)
}
