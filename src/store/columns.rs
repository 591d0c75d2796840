//! How domain types are written to and read from columns.

/// Stores a `domain::text_enum!` enum in a text column: written as its word, read back
/// through `FromStr`, so a word doorman does not know fails the query instead of being
/// guessed.
macro_rules! text_column {
    ($($ty:ty),+ $(,)?) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let word = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(word.parse::<$ty>()?)
            }
        }
    )+};
}
pub(crate) use text_column;

/// Gives a failed statement the name of the operation it belonged to, so the log says
/// what failed and not only that the database did.
pub(crate) trait Op<T> {
    fn op(self, operation: &'static str) -> Result<T, super::StoreError>;
}

impl<T> Op<T> for Result<T, sqlx::Error> {
    fn op(self, operation: &'static str) -> Result<T, super::StoreError> {
        self.map_err(|source| super::StoreError::Query { operation, source })
    }
}

/// A statement that already named a generic operation (a shared helper's) takes the
/// caller's more specific name.
impl<T> Op<T> for Result<T, super::StoreError> {
    fn op(self, operation: &'static str) -> Result<T, super::StoreError> {
        self.map_err(|e| match e {
            super::StoreError::Query { source, .. } => {
                super::StoreError::Query { operation, source }
            }
            other => other,
        })
    }
}
