//! Signing and verification: a bundle verifies with its key, in memory
//! and streamed from its `.rtx` file; one byte changed anywhere in the
//! file fails, naming what failed; another key, a revoked export and a
//! status about another export fail.

use super::*;
use std::io::Cursor;
use tenet_rtx_export::sign::{PublicKey, Signer};
use tenet_rtx_export::verify::{
    signed_status, verify, verify_file, write_file, RevocationCheck, VerifyError,
};

fn signed() -> (Vec<u8>, Made, Vec<u8>) {
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (bytes, made) = make(&rules, &export, records());
    let file = write_file(Vec::new(), &made.envelope, &bytes[..]).unwrap();
    (bytes, made, file)
}

fn status(state: ExportState, retained: bool) -> RevocationStatus {
    RevocationStatus {
        id: "x-1".into(),
        state,
        revoked_at: (state == ExportState::Revoked).then_some(T0 + 40 * H),
        retained,
        sha256: None,
    }
}

#[test]
fn a_signed_bundle_verifies_in_memory_and_from_its_file() {
    let (bytes, made, file) = signed();
    let key = signer().public_key();
    let v = verify(&bytes, &made.envelope, &key, None).unwrap();
    assert_eq!(v.revocation, RevocationCheck::NotChecked);
    assert_eq!(v.statement.predicate.export, "x-1");
    assert_eq!(v.sha256, made.written.sha256);
    let live = status(ExportState::Ready, false);
    let f = verify_file(Cursor::new(&file), &key, Some(&live)).unwrap();
    assert_eq!(f.revocation, RevocationCheck::Live);
    assert_eq!(f.sha256, v.sha256);
    // The file is two JSON lines: the envelope, then the bundle as signed.
    let text = String::from_utf8(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].as_bytes(), &bytes[..]);
    // The status JSON of `GET /v1/exports/{id}` is a revocation status.
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let from_get: RevocationStatus =
        serde_json::from_value(serde_json::to_value(&export).unwrap()).unwrap();
    assert_eq!(from_get.state, ExportState::Pending);
}

#[test]
fn one_byte_changed_anywhere_in_the_file_fails_verification() {
    // One record (the decision, masked) keeps the file small; a byte in
    // every stretch of six, its place in the stretch rotating, is flipped:
    // every field of the envelope and of the bundle, and the newlines.
    let rules = rules();
    let export = export_for("x-1", request(Some("FR"), "data_subject", json!({})));
    let (bytes, made) = make(&rules, &export, records().into_iter().take(1).collect());
    let file = write_file(Vec::new(), &made.envelope, &bytes[..]).unwrap();
    let key = signer().public_key();
    let mut places: Vec<usize> = (0..file.len() / 6).map(|k| k * 6 + k % 6).collect();
    places.push(file.len() - 1);
    places.push(file.iter().position(|b| *b == b'\n').unwrap());
    for i in places {
        let mut t = file.clone();
        t[i] ^= 0x01;
        assert!(
            verify_file(Cursor::new(&t), &key, None).is_err(),
            "flipping byte {i} ({:?}) went unnoticed",
            file[i] as char
        );
    }
}

#[test]
fn each_tamper_names_what_failed() {
    let (bytes, made, _) = signed();
    let key = signer().public_key();
    // The bundle.
    let mut b = bytes.clone();
    let i = b.len() / 2;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    match verify(&b, &made.envelope, &key, None) {
        Err(VerifyError::Digest { expected, .. }) => assert_eq!(expected, made.written.sha256),
        other => panic!("{other:?}"),
    }
    // One more byte.
    let mut longer = bytes.clone();
    longer.push(b' ');
    assert!(matches!(
        verify(&longer, &made.envelope, &key, None),
        Err(VerifyError::Digest { .. })
    ));
    // The signature (still base64).
    let swap = |s: &str, at: usize| {
        let mut c: Vec<char> = s.chars().collect();
        c[at] = if c[at] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    let mut env = made.envelope.clone();
    env.signatures[0].sig = swap(&env.signatures[0].sig, 10);
    let err = verify(&bytes, &env, &key, None).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature(key.keyid().to_string()));
    assert!(
        err.to_string().starts_with("the signature by key `sha256:"),
        "{err}"
    );
    // The envelope's payload (the statement).
    let mut env = made.envelope.clone();
    env.payload = swap(&env.payload, 40);
    assert_eq!(
        verify(&bytes, &env, &key, None).unwrap_err(),
        VerifyError::BadSignature(key.keyid().to_string())
    );
    // The payload type.
    let mut env = made.envelope.clone();
    env.payload_type = "application/json".into();
    assert!(matches!(
        verify(&bytes, &env, &key, None),
        Err(VerifyError::PayloadType(_))
    ));
}

#[test]
fn another_key_fails_and_says_whose_signature_it_is() {
    let (bytes, made, _) = signed();
    let other = Signer::from_seed(&[9; 32]).public_key();
    let err = verify(&bytes, &made.envelope, &other, None).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongKey {
            expected: other.keyid().to_string(),
            found: format!("`{}`", signer().keyid()),
        }
    );
    // A key read back from its PEM is the same key.
    let pem = signer().public_key().to_pem();
    assert!(verify(
        &bytes,
        &made.envelope,
        &PublicKey::from_config(&pem).unwrap(),
        None
    )
    .is_ok());
}

#[test]
fn a_revoked_export_fails_verification_and_says_if_it_is_retained() {
    let (bytes, made, file) = signed();
    let key = signer().public_key();
    let err = verify(
        &bytes,
        &made.envelope,
        &key,
        Some(&status(ExportState::Revoked, false)),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "export `x-1` was revoked at 2026-12-02T16:00:00.000Z"
    );
    let err = verify_file(
        Cursor::new(&file),
        &key,
        Some(&status(ExportState::Revoked, true)),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "export `x-1` was revoked at 2026-12-02T16:00:00.000Z; its bundle is retained under a legal hold, not valid"
    );
    let mut other = status(ExportState::Ready, false);
    other.id = "x-9".into();
    assert!(matches!(
        verify(&bytes, &made.envelope, &key, Some(&other)),
        Err(VerifyError::Status(_))
    ));
    let mut wrong_digest = status(ExportState::Ready, false);
    wrong_digest.sha256 = Some("00".repeat(32));
    assert!(matches!(
        verify(&bytes, &made.envelope, &key, Some(&wrong_digest)),
        Err(VerifyError::Status(_))
    ));
}

#[test]
fn a_file_with_more_or_less_than_its_two_lines_fails() {
    let (_, _, file) = signed();
    let key = signer().public_key();
    let mut extra = file.clone();
    extra.extend_from_slice(b"{}\n");
    assert!(matches!(
        verify_file(Cursor::new(&extra), &key, None),
        Err(VerifyError::File(_))
    ));
    let cut = &file[..file.len() - 1];
    assert!(matches!(
        verify_file(Cursor::new(cut), &key, None),
        Err(VerifyError::File(_))
    ));
    assert!(matches!(
        verify_file(Cursor::new(b"garbage"), &key, None),
        Err(VerifyError::File(_))
    ));
}

#[test]
fn only_the_signed_part_of_a_status_is_trusted() {
    let (_, _, file) = signed();
    let key = signer().public_key();
    let revoked = status(ExportState::Revoked, false);
    let env = signer().sign_status(&revoked, T0 + 41 * H);
    // The status JSON as the server answers it, its plain fields forged.
    let json = json!({"id": "x-1", "state": "ready", "signed_status": env});
    let st = signed_status(&json, &key).unwrap();
    assert_eq!(st.status, revoked);
    assert_eq!(
        st.at,
        tenet_runtime::clock::Timestamp::from_millis(T0 + 41 * H).rfc3339()
    );
    assert!(matches!(
        verify_file(Cursor::new(&file), &key, Some(&st.status)),
        Err(VerifyError::Revoked { .. })
    ));
    // Unsigned, signed by another key, or changed: refused.
    let err = signed_status(&json!({"id": "x-1", "state": "ready"}), &key).unwrap_err();
    assert!(
        err.to_string().contains("carries no `signed_status`"),
        "{err}"
    );
    let other = Signer::from_seed(&[9u8; 32]);
    let forged =
        json!({"signed_status": other.sign_status(&status(ExportState::Ready, false), T0)});
    assert!(matches!(
        signed_status(&forged, &key),
        Err(VerifyError::WrongKey { .. })
    ));
    let mut changed = env.clone();
    changed.payload = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = String::from_utf8(b64.decode(&env.payload).unwrap()).unwrap();
        b64.encode(body.replace("revoked", "ready").as_bytes())
    };
    assert!(matches!(
        signed_status(&json!({"signed_status": changed}), &key),
        Err(VerifyError::BadSignature(_))
    ));
    // A bundle's envelope is not a status (and the other way round).
    let bundle_env: tenet_rtx_export::sign::Envelope =
        serde_json::from_str(std::str::from_utf8(&file).unwrap().lines().next().unwrap()).unwrap();
    assert!(matches!(
        signed_status(&json!({"signed_status": bundle_env}), &key),
        Err(VerifyError::PayloadType(_))
    ));
}
