//! Hyperparameters checked once, where they enter: [`Valid<T>`] holds a value whose
//! [`Hyperparams::validate`] passed, so functions that take it do not check again
//! (as linfa's checked parameter sets do).
//!
//! ```
//! use speaker_similarity::models::{GmmParams, Hyperparams};
//! # fn main() -> speaker_similarity::Result<()> {
//! let p = GmmParams { n_components: 4, ..GmmParams::default() }.check()?;
//! assert_eq!(p.n_components, 4); // reads through to the parameters
//! assert!(GmmParams { n_components: 0, ..GmmParams::default() }.check().is_err());
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;

/// A hyperparameter set that can check itself.
pub trait Hyperparams:
    Debug + Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync
{
    /// Check every field; an error names the field and why it is rejected.
    fn validate(&self) -> Result<()>;

    /// The checked value.
    fn check(self) -> Result<Valid<Self>> {
        self.validate()?;
        Ok(Valid(self))
    }
}

/// A hyperparameter set whose [`Hyperparams::validate`] passed. It reads like the
/// set itself (`Deref`), serialises as it, and validates when deserialised.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<T>(T);

impl<T> Valid<T> {
    /// A value known to be valid: a field of a checked set whose check covers it.
    pub(crate) fn assume_valid(value: T) -> Self {
        Valid(value)
    }

    /// The parameters, to change and check again.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Valid<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Hyperparams> Deserialize<'de> for Valid<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        T::deserialize(d)?.check().map_err(serde::de::Error::custom)
    }
}

/// Parameters as a function takes them: a raw set, checked on entry, or a
/// [`Valid`] one, passed through unchecked. Entry points of the pipeline take
/// `&impl ParamGuard<T>` so callers may give either.
pub trait ParamGuard<T: Hyperparams> {
    /// The checked parameters (borrowed when already checked).
    fn checked(&self) -> Result<Cow<'_, Valid<T>>>;
}

impl<T: Hyperparams> ParamGuard<T> for T {
    fn checked(&self) -> Result<Cow<'_, Valid<T>>> {
        Ok(Cow::Owned(self.clone().check()?))
    }
}

impl<T: Hyperparams> ParamGuard<T> for Valid<T> {
    fn checked(&self) -> Result<Cow<'_, Valid<T>>> {
        Ok(Cow::Borrowed(self))
    }
}

/// The hyperparameters of a model that has none to set (the baselines use fixed,
/// documented settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoParams {}

impl Hyperparams for NoParams {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl Hyperparams for crate::models::GmmParams {
    fn validate(&self) -> Result<()> {
        crate::models::GmmParams::validate(self)
    }
}

impl Hyperparams for crate::models::MlpParams {
    fn validate(&self) -> Result<()> {
        crate::models::MlpParams::validate(self)
    }
}
