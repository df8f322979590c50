//! Internally tagged enums (`{"kind": "ssh", "port": 22, …}`) whose type errors name the
//! field.
//!
//! serde's `#[serde(tag = "kind")]` buffers the whole object before it knows the variant,
//! so a path-tracking deserializer (the API's) can only name the object, `scopes[0]`, when
//! `port` is a string. Here the tag is read first and the variant's fields are then read
//! straight from the input, so the error names `scopes[0].port`. Fields that come before
//! the tag are buffered and replayed (an error in one names the object and the field in its
//! message); the API moves tags to the front of every object, and Riposte serializes them
//! first.

use serde::Deserializer;
use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// The field that names the variant in every tagged enum Riposte reads.
pub const TAG_FIELD: &str = "kind";

/// An enum written as an object whose [`TAG_FIELD`] names the variant, beside the
/// variant's own fields; its `Deserialize` is [`deserialize_tagged`].
pub trait Tagged: Sized {
    /// The variants' names.
    const VARIANTS: &'static [&'static str];

    /// Reads variant `kind` (one of [`VARIANTS`](Self::VARIANTS)) from `fields`: the
    /// object without its tag.
    fn variant<'de, D: Deserializer<'de>>(kind: &str, fields: D) -> Result<Self, D::Error>;
}

/// Deserializes a [`Tagged`] enum: the tag, then the variant's fields.
pub fn deserialize_tagged<'de, D: Deserializer<'de>, T: Tagged>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an object whose `{TAG_FIELD}` is one of {}",
            T::VARIANTS.join(", ")
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut before = Vec::new();
        let kind = loop {
            match map.next_key::<String>()? {
                Some(key) if key == TAG_FIELD => break map.next_value_seed(Kind(T::VARIANTS))?,
                Some(key) => {
                    let value: Value = map.next_value()?;
                    before.push((key, value));
                }
                None => return Err(de::Error::missing_field(TAG_FIELD)),
            }
        };
        let fields = Fields {
            before: before.into_iter(),
            value: None,
            rest: map,
        };
        T::variant(&kind, MapAccessDeserializer::new(fields))
    }
}

/// The tag's value: one of the variants (an error here names the tag field).
struct Kind(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Kind {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let kind = <String as serde::Deserialize>::deserialize(d)?;
        if self.0.contains(&kind.as_str()) {
            Ok(kind)
        } else {
            Err(de::Error::unknown_variant(&kind, self.0))
        }
    }
}

/// The object without its tag: the fields buffered before it, then the rest of the input.
struct Fields<A> {
    before: std::vec::IntoIter<(String, Value)>,
    value: Option<(String, Value)>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Fields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.before.next() {
            Some((key, value)) => {
                let found = seed.deserialize(StringDeserializer::new(key.clone()))?;
                self.value = Some((key, value));
                Ok(Some(found))
            }
            None => self.rest.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.value.take() {
            Some((key, value)) => seed
                .deserialize(value)
                .map_err(|e| de::Error::custom(format!("{key}: {e}"))),
            None => self.rest.next_value_seed(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Door {
        port: u16,
        #[serde(default)]
        names: Vec<String>,
    }

    #[derive(Debug, PartialEq)]
    enum Way {
        Door(Door),
        Wall,
    }

    impl Tagged for Way {
        const VARIANTS: &'static [&'static str] = &["door", "wall"];
        fn variant<'de, D: Deserializer<'de>>(kind: &str, fields: D) -> Result<Self, D::Error> {
            match kind {
                "door" => Door::deserialize(fields).map(Way::Door),
                _ => {
                    #[derive(Deserialize)]
                    #[serde(deny_unknown_fields)]
                    struct Nothing {}
                    Nothing::deserialize(fields).map(|_| Way::Wall)
                }
            }
        }
    }

    impl<'de> Deserialize<'de> for Way {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_tagged(d)
        }
    }

    /// Where a JSON text fails to read as a list of `Way`, and why.
    fn error_at(text: &str) -> (String, String) {
        let mut de = serde_json::Deserializer::from_str(text);
        let e = serde_path_to_error::deserialize::<_, Vec<Way>>(&mut de).unwrap_err();
        (e.path().to_string(), e.into_inner().to_string())
    }

    #[test]
    fn variants_read_in_any_field_order() {
        let ways: Vec<Way> = serde_json::from_str(
            r#"[{"kind": "door", "port": 22}, {"port": 2, "names": ["a"], "kind": "door"}, {"kind": "wall"}]"#,
        )
        .unwrap();
        assert_eq!(
            ways,
            [
                Way::Door(Door {
                    port: 22,
                    names: vec![]
                }),
                Way::Door(Door {
                    port: 2,
                    names: vec!["a".into()]
                }),
                Way::Wall
            ]
        );
    }

    #[test]
    fn errors_after_the_tag_name_the_field() {
        assert_eq!(
            error_at(r#"[{"kind": "wall"}, {"kind": "door", "port": "x"}]"#).0,
            "[1].port"
        );
        assert_eq!(
            error_at(r#"[{"kind": "door", "port": 1, "names": ["a", 7]}]"#).0,
            "[0].names[1]"
        );
        assert_eq!(error_at(r#"[{"kind": "gate"}]"#).0, "[0].kind");
        assert_eq!(error_at(r#"[{"kind": 3}]"#).0, "[0].kind");
        let (at, why) = error_at(r#"[{"kind": "door", "port": 1, "colour": 1}]"#);
        assert_eq!(at, "[0].colour");
        assert!(why.contains("unknown field"), "{why}");
    }

    #[test]
    fn errors_before_the_tag_name_the_object_and_the_field() {
        let (at, why) = error_at(r#"[{"port": "x", "kind": "door"}]"#);
        assert_eq!(at, "[0]");
        assert!(why.starts_with("port: "), "{why}");
        let (at, why) = error_at(r#"[{"port": 1}]"#);
        assert_eq!(at, "[0]");
        assert!(why.contains("missing field `kind`"), "{why}");
    }
}
