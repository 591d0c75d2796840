//! Extractors whose rejections use our error shape instead of axum's plain text.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts};
use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};

use super::error::ApiError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// An integer in a JSON body. JSON Schema counts `3.0` as the integer 3, so clients
/// generated from the document may send it that way; anything with a fraction is refused.
#[derive(Debug, Clone, Copy)]
pub struct Integer<T>(pub T);

impl<'de, T: TryFrom<i64> + TryFrom<u64>> Deserialize<'de> for Integer<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(IntegerVisitor(PhantomData))
            .map(Integer)
    }
}

struct IntegerVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for IntegerVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &"an integer in range"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"an integer in range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // Beyond 2^53 a float no longer says which integer was written (serde_json reads an
        // out-of-range literal such as -9223372036854775809 as one), so it is refused.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(E::invalid_type(Unexpected::Float(v), &self));
        }
        if !(-EXACT..=EXACT).contains(&v) {
            return Err(E::invalid_value(
                Unexpected::Float(v),
                &"an integer in range",
            ));
        }
        // Exact: `v` is whole and within 2^53.
        self.visit_i64(v as i64)
    }
}
