//! The `models!` macro: from one line per model it generates everything that lists
//! the models — the model's module, [`ModelKind`](super::ModelKind) with its name,
//! description and alias tables, [`ModelSettings`](super::ModelSettings) (one
//! hyperparameter field per model), [`TrainedModel`](super::TrainedModel) (the
//! serde-tagged enum of trained models) and the dispatch from a kind to its type.
//! Only `super` (the table) invokes it.

/// See the module documentation. One entry:
///
/// ```text
/// /// doc comment of the ModelKind variant
/// Variant => settings_field: module::Type, "cli-name", ["alias", ...], main: bool,
///     "one-line description";
/// ```
macro_rules! models {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $field:ident: $module:ident::$ty:ident, $name:literal,
            [$($alias:literal),*], main: $main:literal, $desc:literal;
    )+) => {
        $(pub mod $module;)+
        $(pub use $module::$ty;)+

        /// A speaker model the pipeline can train and evaluate (one per line of the
        /// table in [`crate::models::speaker`]).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum ModelKind {
            $($(#[doc = $doc])* $variant,)+
        }

        const N_MODELS: usize = [$($name),+].len();
        const N_MAIN: usize = {
            let mut n = 0;
            $(if $main { n += 1; })+
            n
        };

        impl ModelKind {
            /// Every model, baselines included, in table order.
            pub const ALL: [ModelKind; N_MODELS] = [$(ModelKind::$variant),+];

            /// The models of the tutorial, trained by default (`main: true` in the
            /// table).
            pub const MAIN: [ModelKind; N_MAIN] = {
                let mut out = [ModelKind::ALL[0]; N_MAIN];
                let mut i = 0;
                $(if $main { out[i] = ModelKind::$variant; i += 1; })+
                let _ = i;
                out
            };

            /// The name used on the command line, in reports and in model files.
            pub fn name(self) -> &'static str {
                match self { $(ModelKind::$variant => $name,)+ }
            }

            /// One line saying what the model is.
            pub fn description(self) -> &'static str {
                match self { $(ModelKind::$variant => $desc,)+ }
            }

            /// Other names the command line accepts.
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(ModelKind::$variant => &[$($alias),*],)+ }
            }

            /// True for comparison models that are left out, and reported, when they
            /// cannot be fitted on the data.
            pub fn optional(self) -> bool {
                match self {
                    $(ModelKind::$variant => <$ty as $crate::models::speaker::Trainable>::OPTIONAL,)+
                }
            }
        }

        /// The hyperparameters of every model, one field per model (named as in the
        /// table), each validated when the pipeline's parameters are checked.
        /// Missing fields in a JSON file take their defaults.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct ModelSettings {
            $(
                #[doc = concat!("`", $name, "`: ", $desc, ".")]
                pub $field: <$ty as $crate::models::speaker::Trainable>::Params,
            )+
        }

        impl Default for ModelSettings {
            fn default() -> Self {
                ModelSettings {
                    $($field: <$ty as $crate::models::speaker::Trainable>::default_params(),)+
                }
            }
        }

        impl $crate::models::speaker::Hyperparams for ModelSettings {
            fn validate(&self) -> $crate::error::Result<()> {
                $($crate::models::speaker::Hyperparams::validate(&self.$field)?;)+
                Ok(())
            }
        }

        /// One trained model of any kind, as a model directory stores it
        /// (`{"kind": "gmm-ubm", "model": {...}}`).
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", content = "model")]
        pub enum TrainedModel {
            $(
                #[doc = concat!("`", $name, "`: ", $desc, ".")]
                #[serde(rename = $name)]
                $variant($ty),
            )+
        }

        impl TrainedModel {
            /// Which model this is.
            pub fn kind(&self) -> ModelKind {
                match self { $(TrainedModel::$variant(_) => ModelKind::$variant,)+ }
            }

            /// The model, through the common interface.
            pub fn model(&self) -> &dyn $crate::models::speaker::SpeakerModel {
                match self { $(TrainedModel::$variant(m) => m,)+ }
            }

            /// The model, mutable (enrolment).
            pub fn model_mut(&mut self) -> &mut dyn $crate::models::speaker::SpeakerModel {
                match self { $(TrainedModel::$variant(m) => m,)+ }
            }

            /// Fit a model of `kind` with its hyperparameters from `settings`.
            pub fn fit(
                kind: ModelKind,
                data: &$crate::models::speaker::TrainingSet<'_>,
                settings: &$crate::models::speaker::Valid<ModelSettings>,
                on_progress: $crate::progress::ProgressFn<'_>,
            ) -> $crate::error::Result<TrainedModel> {
                use $crate::models::speaker::{Trainable, Valid};
                Ok(match kind {
                    $(ModelKind::$variant => TrainedModel::$variant(<$ty>::fit(
                        data,
                        // The settings were checked as a whole, so each field is valid.
                        &Valid::assume_valid(settings.$field.clone()),
                        on_progress,
                    )?),)+
                })
            }
        }
    };
}
