//! How a [`Format`] is read: externally tagged, `logpush` or `json: {...}`,
//! whatever the deserializer's own habit (`serde_yaml` would want a YAML
//! tag, `!json`, which it takes too), through the variants serde derives.
//! Nothing is buffered, so a mistake in the options keeps its line and
//! column, and a format named without its options says where they go.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{EnumAccessDeserializer, MapAccessDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer as _, MapAccess, VariantAccess,
    Visitor,
};

use super::Format;

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Format;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a format: `logpush`, or a format's name and its options, as `json: {fields: ...}`")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Format, E> {
                Format::deserialize(EnumAccessDeserializer::new(Named(name, PhantomData)))
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
struct Named<'a, E>(&'a str, PhantomData<E>);

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
