//! A rendered record (the [`evtx`] crate's JSON, XML attributes under `#attributes`)
//! flattened into `System` fields and named data fields, in one pass over the JSON text
//! (no intermediate `serde_json::Value`).

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Visitor methods that accept and ignore every scalar.
macro_rules! scalars_ignored {
    ($value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// One record's fields.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// `System/TimeCreated/@SystemTime`, as logged.
    pub system_time: Option<String>,
    /// `System/EventRecordID` (what Event Viewer, Hayabusa and Chainsaw show; a log
    /// exported from another one keeps it while its record headers are renumbered).
    pub record_id: Option<u64>,
    /// `System` fields under their normalized names, in a fixed order.
    pub system: Vec<(&'static str, String)>,
    /// `EventData` and `UserData` fields under their names as logged.
    pub data: BTreeMap<String, String>,
}

impl Record {
    /// Reads a rendered record; anything that is not the expected shape is skipped.
    pub fn from_json(json: &str) -> Result<Record, serde_json::Error> {
        let mut record = Record::default();
        let mut de = serde_json::Deserializer::from_str(json);
        Top(&mut record).deserialize(&mut de)?;
        de.end()?;
        Ok(record)
    }

    fn set_system(&mut self, system: System) {
        let attr = |e: Option<Element>, f: fn(Attributes) -> Option<Text>| {
            e.and_then(|e| e.attributes).and_then(f).and_then(|t| t.0)
        };
        self.system_time = attr(system.time_created, |a| a.system_time);
        self.record_id = system
            .event_record_id
            .and_then(|t| t.0)
            .and_then(|id| id.trim().parse().ok());
        let provider = system.provider.and_then(|p| p.attributes).and_then(|a| {
            a.name
                .and_then(|t| t.0)
                .or(a.event_source_name.and_then(|t| t.0))
        });
        for (key, value) in [
            ("event_id", system.event_id.and_then(|t| t.0)),
            ("provider", provider),
            ("channel", system.channel.and_then(|t| t.0)),
            ("computer", system.computer.and_then(|t| t.0)),
            ("level", system.level.and_then(|t| t.0)),
            ("task", system.task.and_then(|t| t.0)),
            ("opcode", system.opcode.and_then(|t| t.0)),
            ("keywords", system.keywords.and_then(|t| t.0)),
            ("user_sid", attr(system.security, |a| a.user_id)),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                self.system.push((key, value));
            }
        }
    }

    /// A `System` field by its normalized name.
    pub fn system(&self, key: &str) -> Option<&str> {
        self.system
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A data field with a meaningful value: not empty, not `-`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.data
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty() && *v != "-")
    }
}

/// The `System` element's fields that are kept.
#[derive(Deserialize, Default)]
#[serde(default)]
struct System {
    #[serde(rename = "Provider")]
    provider: Option<Element>,
    #[serde(rename = "EventID")]
    event_id: Option<Text>,
    #[serde(rename = "Level")]
    level: Option<Text>,
    #[serde(rename = "Task")]
    task: Option<Text>,
    #[serde(rename = "Opcode")]
    opcode: Option<Text>,
    #[serde(rename = "Keywords")]
    keywords: Option<Text>,
    #[serde(rename = "TimeCreated")]
    time_created: Option<Element>,
    #[serde(rename = "EventRecordID")]
    event_record_id: Option<Text>,
    #[serde(rename = "Channel")]
    channel: Option<Text>,
    #[serde(rename = "Computer")]
    computer: Option<Text>,
    #[serde(rename = "Security")]
    security: Option<Element>,
}

/// An element with XML attributes (`{"#attributes": {…}}`), or anything else (ignored).
#[derive(Default)]
struct Element {
    attributes: Option<Attributes>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Attributes {
    #[serde(rename = "Name")]
    name: Option<Text>,
    #[serde(rename = "EventSourceName")]
    event_source_name: Option<Text>,
    #[serde(rename = "SystemTime")]
    system_time: Option<Text>,
    #[serde(rename = "UserID")]
    user_id: Option<Text>,
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an element")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
                let mut element = Element::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "#attributes" {
                        element.attributes = map.next_value::<Option<Attributes>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(element)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Element::default())
            }
            scalars_ignored!(Element::default());
        }
        d.deserialize_any(V)
    }
}

/// A scalar's text; an element with attributes and text (`{"#attributes":…, "#text":…}`)
/// gives its text; anything else none.
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let mut text = Text(None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "#text" {
                        text = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(text)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The document: `{"Event": {…}}`.
struct Top<'a>(&'a mut Record);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a rendered EVTX record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Event" {
                map.next_value_seed(EventSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_ignored!(());
}

/// `Event`: `System`, `EventData`, `UserData`.
struct EventSeed<'a>(&'a mut Record);

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an Event element")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let record = self.0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "System" => {
                    let system: Option<System> = map.next_value()?;
                    record.set_system(system.unwrap_or_default());
                }
                // <EventData><Data Name="X">…</Data>…</EventData>, rendered as {"X": …}.
                "EventData" => map.next_value_seed(Fields {
                    out: &mut record.data,
                    name: None,
                    depth: 0,
                })?,
                // <UserData><SomeEvent xmlns="…"><Field>…</Field>…</SomeEvent></UserData>: the
                // fields of the wrapper element, by their own names.
                "UserData" => map.next_value_seed(Fields {
                    out: &mut record.data,
                    name: None,
                    depth: 1,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_ignored!(());
}

/// Adds fields: scalars as they are, `null` as empty, repeated values as `name[1]`,
/// `name[2]`, … (unnamed `<Data>` elements become `Data[1]`, …), nested elements as
/// `name.child`; an element's XML attributes are left to `raw`. `depth` wrapper levels
/// are skipped without adding their names (`UserData`'s event element).
struct Fields<'a> {
    out: &'a mut BTreeMap<String, String>,
    name: Option<String>,
    depth: u8,
}

impl Fields<'_> {
    fn put(self, value: String) {
        let name = self.name.unwrap_or_else(|| "Data".to_string());
        self.out.insert(name, value);
    }
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("event data")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.put(v.to_string());
        Ok(())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.put(v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.put(v.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put(v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.put(v.to_string());
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.put(v.to_string());
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.name.is_some() {
            self.put(String::new());
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.name.unwrap_or_else(|| "Data".to_string());
        let mut i = 0;
        loop {
            i += 1;
            let seed = Fields {
                out: &mut *self.out,
                name: Some(format!("{base}[{i}]")),
                depth: 0,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let (name, depth) = match key.as_ref() {
                "#attributes" => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                "#text" => (self.name.clone(), 0),
                _ if self.depth > 0 => (None, self.depth - 1),
                key => (
                    Some(match &self.name {
                        Some(parent) => format!("{parent}.{key}"),
                        None => key.to_string(),
                    }),
                    0,
                ),
            };
            map.next_value_seed(Fields {
                out: &mut *self.out,
                name,
                depth,
            })?;
        }
        Ok(())
    }
}
