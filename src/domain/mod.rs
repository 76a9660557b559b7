//! Pure values and rules: parsing and validation with no I/O, shared by the web
//! forms and (later) the CSV importer so that every rule is written once.

pub mod email;
pub mod password;
pub mod phone;
pub mod staff;
pub mod text;

pub use email::Email;
pub use phone::Phone;
