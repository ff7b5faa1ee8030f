//! Checks answers of the running bridge against the OpenAPI document in docs/: each
//! answer's operation and status must be documented, and its JSON body must match the
//! documented schema (`$ref`, `type`, `const`, `enum`, `oneOf`, `required`,
//! `properties`, `additionalProperties`, `items`).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

pub struct Spec {
    doc: Value,
    /// `(method, path template)` of every answer checked so far.
    pub covered: BTreeSet<(String, String)>,
}

impl Spec {
    pub fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/provisioning-api.yaml");
        let text = std::fs::read_to_string(path).expect("the OpenAPI document");
        let doc: Value = serde_norway::from_str(&text).expect("the OpenAPI document parses");
        Self {
            doc,
            covered: BTreeSet::new(),
        }
    }

    /// Every documented `(method, path template)`.
    pub fn operations(&self) -> BTreeSet<(String, String)> {
        let mut all = BTreeSet::new();
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            for method in ["get", "post", "put", "delete", "patch"] {
                if item.get(method).is_some() {
                    all.insert((method.to_owned(), template.clone()));
                }
            }
        }
        all
    }

    fn template_of(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, String)> = None;
        for template in self.doc["paths"].as_object()?.keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(part, segment)| {
                if part.starts_with('{') && part.ends_with('}') {
                    !segment.is_empty()
                } else {
                    literal += 1;
                    part == segment
                }
            });
            if fits && best.as_ref().is_none_or(|(score, _)| literal > *score) {
                best = Some((literal, template.clone()));
            }
        }
        best.map(|(_, template)| template)
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut value = value;
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} is not in the document"));
        }
        value
    }

    /// Checks one answer; panics with every mismatch.
    pub fn check(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: &Value,
    ) {
        let method = method.to_lowercase();
        let template = self
            .template_of(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let operation = self.doc["paths"][&template]
            .get(&method)
            .unwrap_or_else(|| panic!("{method} {template} is not documented"));
        let response = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| {
                panic!("{method} {template}: status {status} is not documented ({body})")
            });
        let response = self.resolve(response);
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let content = response["content"]
            .get(media)
            .unwrap_or_else(|| panic!("{method} {template} {status}: {media} is not documented"));
        if let Some(schema) = content.get("schema") {
            let mut errors = Vec::new();
            self.validate(schema, body, "body", &mut errors);
            assert!(
                errors.is_empty(),
                "{method} {path} {status} does not match the document:\n{}\n{body}",
                errors.join("\n")
            );
        }
        self.covered.insert((method, template));
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
            let fitting = choices
                .iter()
                .filter(|choice| {
                    let mut inner = Vec::new();
                    self.validate(choice, value, at, &mut inner);
                    inner.is_empty()
                })
                .count();
            if fitting != 1 {
                errors.push(format!("{at}: fits {fitting} of the oneOf choices"));
            }
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            errors.push(format!("{at}: {value} is not {expected}"));
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let fits = types.iter().any(|kind| match *kind {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "null" => value.is_null(),
                _ => false,
            });
            if !fits {
                errors.push(format!("{at}: {value} is not of type {types:?}"));
            }
        }
        if let Some(object) = value.as_object() {
            for key in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = key.as_str().unwrap_or_default();
                if !object.contains_key(key) {
                    errors.push(format!("{at}: `{key}` is missing"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, inner) in object {
                let at = format!("{at}.{key}");
                match (
                    properties.and_then(|known| known.get(key)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(property), _) => self.validate(property, inner, &at, errors),
                    (None, Some(Value::Bool(false))) => {
                        errors.push(format!("{at}: not documented"))
                    }
                    (None, Some(extra)) if extra.is_object() => {
                        self.validate(extra, inner, &at, errors)
                    }
                    (None, _) => {}
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (index, item) in array.iter().enumerate() {
                self.validate(items, item, &format!("{at}[{index}]"), errors);
            }
        }
    }
}
