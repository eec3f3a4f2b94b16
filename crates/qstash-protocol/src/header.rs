//! Header names of the trigger request (`SPEC.md` §1) and of a published message
//! (`SERVER.md` §3), lowercase as `http` stores them, with their canonical spellings for
//! messages and JSON batch entries.
//!
//! ```
//! use qstash_protocol::header;
//!
//! assert_eq!(header::DELAY.as_str(), "upstash-delay");
//! assert_eq!(header::canonical(&header::WORKFLOW_RUN_ID), Some("Upstash-Workflow-RunId"));
//! ```

use http::HeaderName;

/// Which requests carry a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// A trigger (`POST /v2/trigger/…`) only; a message keeps it as an extra header.
    Trigger,
    /// A message (`POST /v2/publish/…`) only; a trigger ignores it.
    Message,
    /// Both.
    Both,
}

impl Scope {
    /// Whether a trigger carries the header.
    #[must_use]
    pub const fn trigger(self) -> bool {
        matches!(self, Scope::Trigger | Scope::Both)
    }

    /// Whether a message carries the header.
    #[must_use]
    pub const fn message(self) -> bool {
        matches!(self, Scope::Message | Scope::Both)
    }
}

/// What a header's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// A free-form value that travels unchanged (`Content-Type`).
    Text,
    /// A method token (`PUT`).
    Method,
    /// A run id or a deduplication id: 1..=256 bytes of visible ASCII without `,`.
    Id,
    /// A decimal `u32`.
    Count,
    /// Unix seconds, a decimal `u64`.
    UnixSeconds,
    /// A `SPEC.md` §2 delay.
    Delay,
    /// A `SPEC.md` §3 retry-delay expression.
    RetryDelay,
    /// A comma-separated list of labels; several lines add up.
    Labels,
    /// A flow-control key.
    FlowControlKey,
    /// A `SPEC.md` §4 flow-control value.
    FlowControlValue,
    /// An absolute `http(s)` URL.
    Url,
    /// An absolute `http(s)` URL, or empty for the workflow's failure function (a trigger's
    /// failure callback).
    UrlOrEmpty,
    /// `true` or `false`.
    Boolean,
}

/// Defines the table of known headers: a constant per header, and [`Known`].
macro_rules! known_headers {
    ($(
        $(#[$doc:meta])*
        $variant:ident, $konst:ident, $lower:literal, $canonical:literal, $scope:ident, $kind:ident;
    )+) => {
        $(
            $(#[$doc])*
            #[doc = concat!("\n\n`", $canonical, "`: see [`Known::", stringify!($variant), "`].")]
            pub const $konst: HeaderName = HeaderName::from_static($lower);
        )+

        /// A header this crate models: one row of the table of known headers, which gives
        /// its name, its canonical spelling, the requests that carry it and its value's kind.
        ///
        /// Encoding, decoding and [`canonical`] all read this table.
        ///
        /// ```
        /// use qstash_protocol::header::{Known, Scope, ValueKind};
        ///
        /// let k = Known::from_name("upstash-timeout").unwrap();
        /// assert_eq!(k, Known::Timeout);
        /// assert_eq!(k.canonical(), "Upstash-Timeout");
        /// assert_eq!(k.scope(), Scope::Message);
        /// assert_eq!(k.value_kind(), ValueKind::Delay);
        /// assert_eq!(Known::from_name("Upstash-Timeout"), None); // lowercase, as `http` stores names
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Known {
            $(
                #[doc = concat!("`", $canonical, "`.")]
                $variant,
            )+
        }

        impl Known {
            /// Every known header, in the table's order.
            pub const ALL: &'static [Known] = &[$(Known::$variant),+];

            /// The header's name.
            #[must_use]
            pub const fn name(self) -> HeaderName {
                match self {
                    $(Known::$variant => $konst,)+
                }
            }

            /// The name, lowercase.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Known::$variant => $lower,)+
                }
            }

            /// The canonical spelling (`Upstash-Workflow-RunId`).
            #[must_use]
            pub const fn canonical(self) -> &'static str {
                match self {
                    $(Known::$variant => $canonical,)+
                }
            }

            /// The requests that carry it.
            #[must_use]
            pub const fn scope(self) -> Scope {
                match self {
                    $(Known::$variant => Scope::$scope,)+
                }
            }

            /// What its value is.
            #[must_use]
            pub const fn value_kind(self) -> ValueKind {
                match self {
                    $(Known::$variant => ValueKind::$kind,)+
                }
            }

            /// The known header named `name` (lowercase), if any.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Known> {
                match name {
                    $($lower => Some(Known::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

known_headers! {
    /// The body's media type.
    ContentType, CONTENT_TYPE, "content-type", "Content-Type", Both, Text;
    /// The run id.
    WorkflowRunId, WORKFLOW_RUN_ID, "upstash-workflow-runid", "Upstash-Workflow-RunId", Trigger, Id;
    /// The method a message is delivered with.
    Method, METHOD, "upstash-method", "Upstash-Method", Message, Method;
    /// Retries after the first delivery.
    Retries, RETRIES, "upstash-retries", "Upstash-Retries", Both, Count;
    /// A §2 delay before the first delivery.
    Delay, DELAY, "upstash-delay", "Upstash-Delay", Both, Delay;
    /// Unix seconds before which nothing is delivered.
    NotBefore, NOT_BEFORE, "upstash-not-before", "Upstash-Not-Before", Both, UnixSeconds;
    /// A §2 delay bounding each delivery attempt of a message.
    Timeout, TIMEOUT, "upstash-timeout", "Upstash-Timeout", Message, Delay;
    /// A §3 retry-delay expression.
    RetryDelay, RETRY_DELAY, "upstash-retry-delay", "Upstash-Retry-Delay", Both, RetryDelay;
    /// Comma-separated labels.
    Label, LABEL, "upstash-label", "Upstash-Label", Both, Labels;
    /// The flow-control key.
    FlowControlKey, FLOW_CONTROL_KEY, "upstash-flow-control-key", "Upstash-Flow-Control-Key", Both, FlowControlKey;
    /// The §4 limits of the flow-control key.
    FlowControlValue, FLOW_CONTROL_VALUE, "upstash-flow-control-value", "Upstash-Flow-Control-Value", Both, FlowControlValue;
    /// The URL called after every delivery attempt of a message.
    Callback, CALLBACK, "upstash-callback", "Upstash-Callback", Message, Url;
    /// Where a failure is reported: a URL (a trigger also allows empty, for the workflow's
    /// failure function).
    FailureCallback, FAILURE_CALLBACK, "upstash-failure-callback", "Upstash-Failure-Callback", Both, UrlOrEmpty;
    /// A message's deduplication id.
    DeduplicationId, DEDUPLICATION_ID, "upstash-deduplication-id", "Upstash-Deduplication-Id", Message, Id;
    /// `true` to deduplicate a message by its content.
    ContentBasedDeduplication, CONTENT_BASED_DEDUPLICATION, "upstash-content-based-deduplication", "Upstash-Content-Based-Deduplication", Message, Boolean;
}

/// Defines the table of forwarding prefixes and [`ForwardPrefix`].
macro_rules! forward_prefixes {
    ($(
        $(#[$doc:meta])*
        $variant:ident, $konst:ident, $konst_canonical:ident, $lower:literal, $canonical:literal, $scope:ident;
    )+) => {
        $(
            $(#[$doc])*
            #[doc = ", lowercase."]
            pub const $konst: &str = $lower;
            #[doc = concat!("[`", stringify!($konst), "`] in its canonical spelling.")]
            pub const $konst_canonical: &str = $canonical;
        )+

        /// A prefix of forwarded headers (`Upstash-Forward-<Name>`, …): one row of the table
        /// of prefixes.
        ///
        /// ```
        /// use qstash_protocol::header::ForwardPrefix;
        ///
        /// assert_eq!(
        ///     ForwardPrefix::split("upstash-callback-forward-x-id"),
        ///     Some((ForwardPrefix::Callback, "x-id"))
        /// );
        /// assert_eq!(ForwardPrefix::Failure.canonical(), "Upstash-Failure-Callback-Forward-");
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ForwardPrefix {
            $(
                #[doc = concat!("`", $canonical, "<Name>`.")]
                $variant,
            )+
        }

        impl ForwardPrefix {
            /// Every prefix, in the table's order.
            pub const ALL: &'static [ForwardPrefix] = &[$(ForwardPrefix::$variant),+];

            /// The prefix, lowercase.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ForwardPrefix::$variant => $lower,)+
                }
            }

            /// The prefix in its canonical spelling.
            #[must_use]
            pub const fn canonical(self) -> &'static str {
                match self {
                    $(ForwardPrefix::$variant => $canonical,)+
                }
            }

            /// The requests that carry it.
            #[must_use]
            pub const fn scope(self) -> Scope {
                match self {
                    $(ForwardPrefix::$variant => Scope::$scope,)+
                }
            }

            /// The prefix of `name` (lowercase) and the rest, possibly empty.
            #[must_use]
            pub fn split(name: &str) -> Option<(ForwardPrefix, &str)> {
                // `Upstash-Forward-` is not a prefix of the others, nor they of each other.
                $(
                    if let Some(rest) = name.strip_prefix($lower) {
                        return Some((ForwardPrefix::$variant, rest));
                    }
                )+
                None
            }
        }
    };
}

forward_prefixes! {
    /// Prefix of headers forwarded to the destination (`Upstash-Forward-<Name>`)
    Destination, FORWARD_PREFIX, FORWARD_PREFIX_CANONICAL, "upstash-forward-", "Upstash-Forward-", Both;
    /// Prefix of headers forwarded to a message's callback (`Upstash-Callback-Forward-<Name>`)
    Callback, CALLBACK_FORWARD_PREFIX, CALLBACK_FORWARD_PREFIX_CANONICAL, "upstash-callback-forward-", "Upstash-Callback-Forward-", Message;
    /// Prefix of headers forwarded to the failure callback
    /// (`Upstash-Failure-Callback-Forward-<Name>`)
    Failure, FAILURE_CALLBACK_FORWARD_PREFIX, FAILURE_CALLBACK_FORWARD_PREFIX_CANONICAL, "upstash-failure-callback-forward-", "Upstash-Failure-Callback-Forward-", Both;
}

/// `Content-Type` in its canonical spelling.
pub(crate) const CONTENT_TYPE_CANONICAL: &str = Known::ContentType.canonical();

/// The canonical spelling of a known header (`Upstash-Workflow-RunId`), or `None` for any
/// other name.
#[must_use]
pub fn canonical(name: &HeaderName) -> Option<&'static str> {
    Known::from_name(name.as_str()).map(Known::canonical)
}
