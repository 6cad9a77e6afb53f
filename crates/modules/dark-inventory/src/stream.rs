//! A discovery batch read one resource at a time from JSON, so that a run
//! of a million resources is never held whole: each resource is handed
//! over as it is parsed (to [`crate::engine::Run::add`]) and dropped.
//!
//! The batch's head (`source`, `run`, `at`, `tenant`) is handed over first.
//! When `resources` comes before them in the document, its resources are
//! buffered until the head is known (the writers of this format — serde,
//! `tenet inventory convert` — put the head first).

use crate::engine::RunHead;
use crate::model::Discovered;
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use std::fmt;
use std::io::Read;
use tenet_runtime::clock::Timestamp;

/// What [`read`] hands over, in order: the head once, then each resource.
pub enum Event {
    Head {
        head: RunHead,
        tenant: Option<String>,
    },
    Resource(Discovered),
}

/// Reads a batch from `r`, calling `f` for its head and then each
/// resource; an error of `f` stops the read and is returned as is.
pub fn read<R: Read, F: FnMut(Event) -> Result<(), String>>(r: R, f: F) -> Result<(), String> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, r));
    let mut state = State {
        f,
        source: None,
        run: None,
        at: None,
        tenant: None,
        begun: false,
        buffered: Vec::new(),
        failed: None,
    };
    let res = (&mut de).deserialize_map(BatchVisitor(&mut state));
    if let Some(e) = state.failed.take() {
        return Err(e);
    }
    res.map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(())
}

struct State<F> {
    f: F,
    source: Option<String>,
    run: Option<String>,
    at: Option<i64>,
    tenant: Option<String>,
    begun: bool,
    buffered: Vec<Discovered>,
    /// The callback's own error, kept apart from serde's position info.
    failed: Option<String>,
}

impl<F: FnMut(Event) -> Result<(), String>> State<F> {
    fn begin(&mut self) -> Result<(), String> {
        if self.begun {
            return Ok(());
        }
        let (Some(source), Some(run)) = (self.source.clone(), self.run.clone()) else {
            return Err("a batch needs `source` and `run`".into());
        };
        self.begun = true;
        (self.f)(Event::Head {
            head: RunHead {
                source,
                run,
                at: self.at,
            },
            tenant: self.tenant.clone(),
        })?;
        for d in std::mem::take(&mut self.buffered) {
            (self.f)(Event::Resource(d))?;
        }
        Ok(())
    }

    fn ready(&self) -> bool {
        self.source.is_some() && self.run.is_some()
    }
}

struct BatchVisitor<'s, F>(&'s mut State<F>);

impl<'de, F: FnMut(Event) -> Result<(), String>> Visitor<'de> for BatchVisitor<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a batch {source, run, at?, tenant?, resources}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.0;
        let mut resources = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "source" => st.source = Some(map.next_value()?),
                "run" => st.run = Some(map.next_value()?),
                "tenant" => st.tenant = map.next_value()?,
                "at" => {
                    let t: Option<String> = map.next_value()?;
                    st.at = t
                        .map(|t| Timestamp::parse(&t).map(Timestamp::millis))
                        .transpose()
                        .map_err(A::Error::custom)?;
                }
                "resources" => {
                    resources = true;
                    map.next_value_seed(Resources(&mut *st))?;
                }
                other => {
                    let _: IgnoredAny = map.next_value()?;
                    return Err(A::Error::custom(format!(
                        "unknown field `{other}`, expected one of `source`, `run`, `at`, `tenant`, `resources`"
                    )));
                }
            }
        }
        if !resources {
            return Err(A::Error::missing_field("resources"));
        }
        if let Err(e) = st.begin() {
            st.failed = Some(e.clone());
            return Err(A::Error::custom(e));
        }
        Ok(())
    }
}

struct Resources<'s, F>(&'s mut State<F>);

impl<'de, F: FnMut(Event) -> Result<(), String>> DeserializeSeed<'de> for Resources<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Event) -> Result<(), String>> Visitor<'de> for Resources<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.0;
        while let Some(d) = seq.next_element::<Discovered>()? {
            if st.ready() {
                let r = st.begin().and_then(|()| (st.f)(Event::Resource(d)));
                if let Err(e) = r {
                    st.failed = Some(e.clone());
                    return Err(A::Error::custom(e));
                }
            } else {
                st.buffered.push(d);
            }
        }
        Ok(())
    }
}
