//! Parser for the path templates of `google.api.http` rules.
//!
//! A template is parsed once, when the route table is compiled, into a flat list of segment
//! matchers plus the variables that bind spans of those segments to request fields. The router
//! then matches request paths segment by segment without looking at the template text again.
//!
//! Grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! `**` matches zero or more segments and may only be the last segment of a template.

use std::fmt;

/// What one template segment matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Exactly this text (after percent-decoding of the request segment).
    Literal(String),
    /// `*`: any one segment.
    Single,
    /// `**`: the rest of the path, zero or more segments.
    Rest,
}

/// A `{field.path=pattern}` binding: the request segments `start..end` form the field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Proto field names from the request message down to the bound field.
    pub field_path: Vec<String>,
    /// Index of the first template segment the variable covers.
    pub start: usize,
    /// One past the last template segment the variable covers.
    pub end: usize,
}

impl Variable {
    /// Dotted proto field path, as used in error messages (`book.name`).
    pub fn dotted(&self) -> String {
        self.field_path.join(".")
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
}

/// Why a template is not valid; the text says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let mut parser = Parser {
            src: text,
            pos: 0,
            segments: Vec::new(),
            variables: Vec::new(),
        };
        parser.template()?;
        let verb = parser.verb_out();
        if let Some(verb) = &verb {
            if !valid_verb(verb) {
                return Err(TemplateError(format!("invalid verb in template {text:?}")));
            }
        }
        let template = PathTemplate {
            segments: parser.segments,
            variables: parser.variables,
            verb,
        };
        template.validate(text)?;
        Ok(template)
    }

    fn validate(&self, text: &str) -> Result<(), TemplateError> {
        if let Some(pos) = self.segments.iter().position(|s| *s == Segment::Rest) {
            if pos + 1 != self.segments.len() {
                return Err(TemplateError(format!(
                    "`**` must be the last segment of template {text:?}"
                )));
            }
        }
        for (i, a) in self.variables.iter().enumerate() {
            if self.variables[..i]
                .iter()
                .any(|b| b.field_path == a.field_path)
            {
                return Err(TemplateError(format!(
                    "field {} is bound twice in template {text:?}",
                    a.dotted()
                )));
            }
        }
        Ok(())
    }

    /// True when the template ends with `**`, so it matches any number of trailing segments.
    pub fn ends_with_rest(&self) -> bool {
        self.segments.last() == Some(&Segment::Rest)
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn error(&self, what: &str) -> TemplateError {
        TemplateError(format!(
            "{what} at offset {} of template {:?}",
            self.pos, self.src
        ))
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn template(&mut self) -> Result<(), TemplateError> {
        if !self.eat('/') {
            return Err(self.error("expected `/`"));
        }
        self.segments_until(false)?;
        match self.peek() {
            None => Ok(()),
            Some(':') => Ok(()),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    /// Parses `Segment { "/" Segment }`; inside a variable, variables may not nest.
    fn segments_until(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        loop {
            self.segment(in_variable)?;
            if !self.eat('/') {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        match self.peek() {
            Some('*') => {
                self.pos += 1;
                if self.eat('*') {
                    self.segments.push(Segment::Rest);
                } else {
                    self.segments.push(Segment::Single);
                }
                Ok(())
            }
            Some('{') if !in_variable => self.variable(),
            Some('{') => Err(self.error("variables may not nest")),
            _ => {
                let literal = self.literal().to_string();
                if literal.is_empty() {
                    return Err(self.error("empty segment"));
                }
                self.segments.push(Segment::Literal(literal));
                Ok(())
            }
        }
    }

    fn literal(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '/' | '{' | '}' | ':' | '*' | '=') {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.src[start..self.pos]
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        self.pos += 1; // '{'
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let path = &self.src[start..self.pos];
        let field_path: Vec<String> = path.split('.').map(str::to_string).collect();
        if field_path
            .iter()
            .any(|p| p.is_empty() || p.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(self.error("invalid field path in variable"));
        }
        let first = self.segments.len();
        if self.eat('=') {
            self.segments_until(true)?;
        } else {
            self.segments.push(Segment::Single);
        }
        if !self.eat('}') {
            return Err(self.error("expected `}`"));
        }
        self.variables.push(Variable {
            field_path,
            start: first,
            end: self.segments.len(),
        });
        Ok(())
    }

    fn verb_out(&mut self) -> Option<String> {
        if self.eat(':') {
            Some(self.src[self.pos..].to_string())
        } else {
            None
        }
    }
}

/// Checks the verb after parsing: a LITERAL, so no `/`, braces or wildcards.
fn valid_verb(verb: &str) -> bool {
    !verb.is_empty() && !verb.contains(['/', '{', '}', '*', ':', '='])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.to_string())
    }

    #[test]
    fn parses_literals_and_verb() {
        let t = PathTemplate::parse("/v1/users:register").unwrap();
        assert_eq!(t.segments, vec![lit("v1"), lit("users")]);
        assert_eq!(t.verb.as_deref(), Some("register"));
        assert!(t.variables.is_empty());
    }

    #[test]
    fn parses_multi_segment_variable() {
        let t = PathTemplate::parse("/v1/{name=shelves/*/books/*}").unwrap();
        assert_eq!(
            t.segments,
            vec![
                lit("v1"),
                lit("shelves"),
                Segment::Single,
                lit("books"),
                Segment::Single
            ]
        );
        assert_eq!(
            t.variables,
            vec![Variable {
                field_path: vec!["name".into()],
                start: 1,
                end: 5
            }]
        );
    }

    #[test]
    fn parses_nested_field_and_rest() {
        let t = PathTemplate::parse("/v1/{book.name}/files/{path=**}:get").unwrap();
        assert_eq!(t.variables[0].field_path, vec!["book", "name"]);
        assert_eq!((t.variables[0].start, t.variables[0].end), (1, 2));
        assert_eq!((t.variables[1].start, t.variables[1].end), (3, 4));
        assert!(t.ends_with_rest());
        assert_eq!(t.verb.as_deref(), Some("get"));
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "v1/x",
            "/v1//x",
            "/v1/{name=**}/x",
            "/v1/{a={b}}",
            "/v1/{a",
            "/v1/{a}/{a}",
            "/v1/{1a}",
            "/v1/x:",
            "/v1/x:a/b",
        ] {
            assert!(
                PathTemplate::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
