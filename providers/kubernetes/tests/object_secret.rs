//! A Secret's data never reaches a log line (every level, every crate: kube, hyper, tower,
//! ss) nor an error. Alone in its test binary: a subscriber set for one test sees every
//! event only when no other test's thread races it for the callsites' interest.

#![allow(clippy::panic, clippy::unwrap_used)]

mod object;

use std::io::Write;
use std::sync::{Arc, Mutex};

use kubernetes::object::OBJECT;
use provider_api::kit::Service;
use provider_api::{Value, same};
use serde_json::{Value as Json, json};

use object::{config, create, namespace, read, service, start};

/// Every log line of the test, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_secret_never_reaches_a_log_line_nor_an_error() {
    // "superset-secret-key-0123456789" in base64, as a Secret's data holds it.
    const PLAIN: &str = "superset-secret-key-0123456789";
    const ENCODED: &str = "c3VwZXJzZXQtc2VjcmV0LWtleS0wMTIzNDU2Nzg5";
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start(&[]).await;
    let svc = service();
    create(&svc, &config(&sim.cluster, namespace("superset")))
        .await
        .unwrap();
    let secret = |extra: Json| {
        let mut m = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "superset-env", "namespace": "superset"},
            "type": "Opaque"
        });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        let Value::Map(mut map) = Value::from_json(&m) else {
            panic!("a map")
        };
        map.insert(
            "data".into(),
            Value::Map([("SECRET_KEY".to_string(), Value::from(ENCODED).sensitive())].into()),
        );
        Value::Map(map)
    };
    let wanted = config(&sim.cluster, secret(json!({})));
    let created = create(&svc, &wanted).await.unwrap();
    let read_back = read(&svc, &created.id).await.unwrap();
    assert!(same(&read_back.attrs["manifest"], &wanted["manifest"]));
    assert!(read_back.attrs["manifest"].is_sensitive());
    assert!(!format!("{read_back:?} {}", read_back.attrs["manifest"]).contains(ENCODED));
    // A refused Secret: the error does not quote it.
    let err = create(&svc, &config(&sim.cluster, secret(json!({"bogus": 1}))))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(ENCODED), "{err}");
    svc.delete(OBJECT, &created).await.unwrap();
    sim.handle.shutdown().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("applied"), "the capture saw nothing: {text}");
    assert!(text.contains("TRACE"), "nothing at TRACE was captured");
    assert!(
        text.contains("http.method=PATCH") && text.contains("secrets/superset-env"),
        "the capture missed the Secret's apply"
    );
    assert!(!text.contains(ENCODED), "the secret reached a log line");
    assert!(!text.contains(PLAIN), "the secret reached a log line");
}
