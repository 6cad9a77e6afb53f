//! The examples in `docs/notify.md` hold.

use std::time::Duration;
use tenet_notify::config::WebhookConfig;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/notify.md")).unwrap()
}

/// The fenced block of `lang` after the heading `heading`.
fn block(doc: &str, heading: &str, lang: &str) -> String {
    let after = doc.split_once(heading).unwrap().1;
    let start = after.split_once(&format!("```{lang}\n")).unwrap().1;
    start.split_once("```").unwrap().0.to_owned()
}

#[test]
fn the_documented_configuration_reads_and_checks() {
    let doc = doc();
    let c: WebhookConfig =
        serde_yaml_ng::from_str(&block(&doc, "### Configuration", "yaml")).unwrap();
    assert_eq!(c.check(), Ok(()));
    let mut defaults = WebhookConfig::new(c.url.clone());
    defaults.timeout = Duration::from_secs(5);
    defaults.signing_secret_env = c.signing_secret_env.clone();
    defaults.bearer_token_env = c.bearer_token_env.clone();
    defaults.headers = c.headers.clone();
    assert_eq!(
        c, defaults,
        "the example shows the defaults but for `timeout`"
    );

    let mut wrong = c.clone();
    wrong.backoff.base = Duration::from_secs(10);
    wrong.backoff.max = Duration::from_secs(1);
    wrong
        .headers
        .insert("Authorization".into(), "Bearer x".into());
    assert_eq!(
        format!("{}\n", wrong.check().unwrap_err()),
        block(&doc, "each saying what to change:", "text")
    );
}
