//! Pure values and rules: parsing and validation with no I/O, shared by the web
//! forms and the CSV importer so that every rule is written once.

/// An enum stored as text: `as_str` for the database and forms, `label` for
/// people, and a forgiving `FromStr` (any case, surrounding spaces).
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal / $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value stored in the database and sent by forms.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The word shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let s = s.trim();
                $(if s.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(format!("{s} is not one of: {}", [$($label),+].join(", ")))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

pub mod birth_date;
pub mod contact;
pub mod country;
pub mod duplicate;
pub mod email;
pub mod language;
pub mod merge;
pub mod note;
pub mod password;
pub mod phone;
pub mod staff;
pub mod text;

pub use email::Email;
pub use phone::Phone;
