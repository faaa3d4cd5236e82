//! Log formats: how one line of an input becomes a `Record`.
//!
//! Each format is one module with its options (what the config says under
//! its name) and its parser, behind one interface, `LineFormat`. An input
//! names its format in the config (`format: logpush`, `format: {json:
//! {fields: ...}}`); [`Format`] is that choice, deserialized straight into
//! the format's own options, externally tagged so that every mistake keeps
//! its line and column.
//!
//! Adding a format: a new module here with its options type and a
//! `LineFormat` impl, and in this file its `mod` line and one variant of
//! [`Format`] with its arm in `Format::parts` (see docs/development.md).

pub mod combined;
pub mod json;
mod logpush;

use std::fmt;

use serde::de::value::{EnumAccessDeserializer, MapAccessDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer as _, MapAccess, VariantAccess,
    Visitor,
};

use crate::record::Record;
pub use crate::record::{Field, Unit};

/// How the lines of an input are written: `format:` of a push or file input.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Format {
    /// Cloudflare Logpush `http_requests` NDJSON (the default).
    #[default]
    Logpush,
    /// Any JSON-per-line access log (nginx `escape=json`, Envoy JSON), read
    /// through a field map.
    Json(json::Json),
    /// nginx (or Apache) `combined`, with the fields a `log_format` appends.
    Combined(combined::Combined),
}

impl Format {
    /// The format's name, as the config writes it, and its parser.
    fn parts(&self) -> (&'static str, &dyn LineFormat) {
        match self {
            Self::Logpush => ("logpush", &logpush::Logpush),
            Self::Json(f) => ("json", f),
            Self::Combined(f) => ("combined", f),
        }
    }

    /// The format's name, as the config writes it.
    pub(crate) fn name(&self) -> &'static str {
        self.parts().0
    }

    /// The parser of this format's lines.
    pub(crate) fn parser(&self) -> &dyn LineFormat {
        self.parts().1
    }

    /// Adds the problems of the format's options to `problems`, each as
    /// `path: message`, the paths below `at` (the `format` key).
    pub(crate) fn check(&self, at: &str, problems: &mut Vec<String>) {
        let (name, format) = self.parts();
        format.check(&format!("{at}.{name}"), problems);
    }
}

impl<'de> Deserialize<'de> for Format {
    /// The externally tagged form, `logpush` or `{json: {fields: ...}}`,
    /// whatever the deserializer's own habit (`serde_yaml` would want a YAML
    /// tag, `!json`, which it takes too). Nothing is buffered, so a mistake
    /// in the options keeps its line and column.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Format;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a format: `logpush`, or a format's name and its options, as `json: {fields: ...}`")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Format, E> {
                Format::deserialize(EnumAccessDeserializer::new(Named(name, std::marker::PhantomData)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Format, A::Error> {
                Format::deserialize(MapAccessDeserializer::new(map))
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Format, A::Error> {
                Format::deserialize(EnumAccessDeserializer::new(data))
            }
        }
        d.deserialize_any(V)
    }
}

/// A format named without options: right for `logpush`; for a format
/// that takes options, an error that says where they go.
struct Named<'a, E>(&'a str, std::marker::PhantomData<E>);

impl<E: de::Error> Named<'_, E> {
    fn needs_options(&self) -> E {
        E::custom(format_args!("format `{0}` takes options: write them under its name, as `{0}: {{...}}`", self.0))
    }
}

impl<'de, E: de::Error> EnumAccess<'de> for Named<'_, E> {
    type Error = E;
    type Variant = Self;
    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self), E> {
        Ok((seed.deserialize(self.0.into_deserializer())?, self))
    }
}

impl<'de, E: de::Error> VariantAccess<'de> for Named<'_, E> {
    type Error = E;
    fn unit_variant(self) -> Result<(), E> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, E> {
        Err(self.needs_options())
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, E> {
        Err(self.needs_options())
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value, E> {
        Err(self.needs_options())
    }
}

/// What every log format does.
pub(crate) trait LineFormat: fmt::Debug + Sync {
    /// Parses `line` (without its newline) into `r`, handed in empty
    /// (filling it in place spares moving a large record through every
    /// return). `memo` is what earlier lines of the same batch taught.
    fn parse_into<'a>(&'a self, line: &'a [u8], memo: &mut Memo, r: &mut Record<'a>) -> Result<(), ParseError>;

    /// Adds a problem of the options to `problems` as `path: message`, the
    /// paths below `at` (the options' own node, `files[0].format.json`).
    fn check(&self, at: &str, problems: &mut Vec<String>) {
        let _ = (at, problems);
    }
}

/// What a batch's parser remembers from one line to the next: one per
/// batch, whatever its format.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// The keys of the JSON lines read so far.
    json: json::Shape,
}

/// Why a line is not a record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParseError(String);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<Format>, edgewatch_catalog::yaml::DeError> {
        edgewatch_catalog::yaml::from_str(yaml)
    }

    /// The names `parts` gives are the names the config takes.
    #[test]
    fn names_are_the_config_names() {
        let formats = parse("[logpush, {json: {fields: {host: h}}}, {combined: {host: a.example}}]").unwrap();
        let names: Vec<_> = formats.iter().map(|f| f.parts().0).collect();
        assert_eq!(names, ["logpush", "json", "combined"]);
        let tagged = parse("- !json {fields: {host: h}}\n").unwrap();
        assert_eq!(tagged.iter().map(|f| f.parts().0).collect::<Vec<_>>(), ["json"]);
    }

    #[test]
    fn mistakes_keep_their_place() {
        for (yaml, line, message) in [
            ("- logpush\n- jsn: {}\n", 2, "unknown variant `jsn`"),
            ("- json:\n    fields: {hots: h}\n", 2, "unknown variant `hots`"),
            ("- combined:\n    trailing: [request_time]\n    hots: a\n", 3, "unknown field `hots`"),
            ("- {json: {fields: {}}, combined: {}}\n", 1, "expected map containing 1 entry"),
            ("- json\n", 1, "format `json` takes options: write them under its name, as `json: {...}`"),
        ] {
            let err = parse(yaml).unwrap_err();
            assert!(err.message.contains(message), "{yaml}: {err}");
            assert_eq!(err.at.map(|a| a.line), Some(line), "{yaml}: {err}");
        }
    }
}
