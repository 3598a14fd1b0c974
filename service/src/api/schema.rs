//! Schemas the `ToSchema` derive cannot write: a field whose rule lives in
//! `amm_engine::names` gets it from there (`minLength`, `maxLength`, `pattern`), so the document
//! and the server's check cannot drift apart. (A module of its own so that the resources'
//! modules use it without reaching back into `api`.)

/// A string schema for text a person types into a form ([`amm_engine::names::is_form_text`] of
/// at most `max` characters): the server's rule as `minLength`, `maxLength` and `pattern`, and
/// in words after `description`.
pub fn form_text_schema(description: &str, max: usize, rule: &str) -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(format!("{description} {rule}.")))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(amm_engine::names::FORM_TEXT_PATTERN))
}
