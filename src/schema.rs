// @generated automatically by Diesel CLI.

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        email_key -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        staff_id -> Nullable<Int8>,
        state -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    staff (id) {
        id -> Int8,
        email -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        department -> Text,
        job_title -> Text,
        time_zone -> Text,
        extension -> Nullable<Text>,
        phone -> Nullable<Text>,
        availability -> Text,
        active -> Bool,
        avatar_version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    staff_avatars (staff_id) {
        staff_id -> Int8,
        content_type -> Text,
        data -> Bytea,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(sessions -> staff (staff_id));
diesel::joinable!(staff_avatars -> staff (staff_id));

diesel::allow_tables_to_appear_in_same_query!(login_attempts, sessions, staff, staff_avatars,);
