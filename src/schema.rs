// @generated automatically by Diesel CLI.

diesel::table! {
    bulk_jobs (id) {
        id -> Int8,
        staff_id -> Int8,
        action -> Text,
        value -> Text,
        what -> Text,
        view_query -> Text,
        trash -> Bool,
        status -> Text,
        total -> Nullable<Int8>,
        walked -> Int8,
        changed -> Int8,
        after_id -> Int8,
        attempts -> Int4,
        error -> Nullable<Text>,
        stopped_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        then_delete_label -> Bool,
    }
}

diesel::table! {
    contact_changes (id) {
        id -> Int8,
        contact_id -> Int8,
        staff_id -> Nullable<Int8>,
        source -> Text,
        action -> Text,
        field -> Nullable<Text>,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        version -> Int4,
        changed_at -> Timestamptz,
        merge_id -> Nullable<Int8>,
    }
}

diesel::table! {
    merges (id) {
        id -> Int8,
        kept_id -> Int8,
        merged_ids -> Array<Int8>,
        staff_id -> Nullable<Int8>,
        journal -> Text,
        created_at -> Timestamptz,
        undone_at -> Nullable<Timestamptz>,
        undone_by -> Nullable<Int8>,
    }
}

diesel::table! {
    merge_moves (merge_id, source_id, kind) {
        merge_id -> Int8,
        source_id -> Int8,
        kind -> Text,
        ids -> Array<Int8>,
        keys -> Array<Text>,
    }
}

diesel::table! {
    contact_emails (id) {
        id -> Int8,
        contact_id -> Int8,
        kind -> Text,
        email -> Text,
        position -> Int4,
        verified -> Bool,
    }
}

diesel::table! {
    contact_labels (contact_id, label_id) {
        contact_id -> Int8,
        label_id -> Int8,
    }
}

diesel::table! {
    contact_phones (id) {
        id -> Int8,
        contact_id -> Int8,
        kind -> Text,
        number -> Text,
        position -> Int4,
        verified -> Bool,
    }
}

diesel::table! {
    contact_socials (id) {
        id -> Int8,
        contact_id -> Int8,
        kind -> Text,
        handle -> Text,
        position -> Int4,
        verified -> Bool,
    }
}

diesel::table! {
    contacts (id) {
        id -> Int8,
        first_name -> Text,
        last_name -> Text,
        contact_type -> Text,
        level -> Text,
        company -> Text,
        job_title -> Text,
        team -> Text,
        contact_group -> Text,
        birth_date -> Nullable<Date>,
        language -> Nullable<Text>,
        street -> Text,
        city -> Text,
        state -> Text,
        zip_code -> Text,
        country -> Nullable<Text>,
        owner_id -> Nullable<Int8>,
        created_by -> Nullable<Int8>,
        updated_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        deleted_by -> Nullable<Int8>,
        merged_into -> Nullable<Int8>,
        sort_name -> Nullable<Text>,
        search_text -> Text,
        label_ids -> Array<Int8>,
        first_phone -> Nullable<Text>,
        first_email -> Nullable<Text>,
    }
}

diesel::table! {
    custom_field_values (contact_id, field_id) {
        contact_id -> Int8,
        field_id -> Int8,
        value -> Text,
    }
}

diesel::table! {
    custom_fields (id) {
        id -> Int8,
        label -> Text,
        kind -> Text,
        options -> Array<Nullable<Text>>,
        required -> Bool,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    exports (id) {
        id -> Int8,
        staff_id -> Int8,
        scope -> Text,
        row_count -> Nullable<Int8>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    import_errors (import_id, row_no) {
        import_id -> Int8,
        row_no -> Int8,
        errors -> Text,
        fields -> Array<Nullable<Text>>,
    }
}

diesel::table! {
    import_matches (import_id, contact_id) {
        import_id -> Int8,
        contact_id -> Int8,
        row_no -> Int8,
    }
}

diesel::table! {
    imports (id) {
        id -> Int8,
        staff_id -> Int8,
        file_name -> Text,
        stored_path -> Text,
        file_size -> Int8,
        header -> Array<Nullable<Text>>,
        mode -> Text,
        owner_id -> Nullable<Int8>,
        label_ids -> Array<Nullable<Int8>>,
        status -> Text,
        total_rows -> Int8,
        preview_failed -> Int8,
        preview_errors -> Text,
        rows_read -> Int8,
        imported -> Int8,
        updated -> Int8,
        unchanged -> Int8,
        failed -> Int8,
        byte_offset -> Int8,
        record_no -> Int8,
        attempts -> Int4,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        queued_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        preview_plan -> Text,
    }
}

diesel::table! {
    labels (id) {
        id -> Int8,
        name -> Text,
        colour -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        email_key -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamptz,
        client -> Text,
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

diesel::table! {
    notes (id) {
        id -> Int8,
        contact_id -> Int8,
        author_id -> Int8,
        body -> Text,
        pinned -> Bool,
        created_at -> Timestamptz,
        edited_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    contact_shares (contact_id, staff_id) {
        contact_id -> Int8,
        staff_id -> Int8,
        shared_by -> Nullable<Int8>,
        message -> Text,
        shared_at -> Timestamptz,
        sort_name -> Text,
        search_text -> Text,
    }
}

diesel::table! {
    settings (id) {
        id -> Bool,
        contact_visibility -> Text,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Int8>,
        missed_after_minutes -> Int4,
    }
}

diesel::table! {
    enquiries (id) {
        id -> Int8,
        contact_id -> Int8,
        channel -> Text,
        status -> Text,
        visitor_name -> Text,
        visitor_email -> Nullable<Text>,
        visitor_phone -> Nullable<Text>,
        token_hash -> Bytea,
        handler_id -> Nullable<Int8>,
        possible_duplicates -> Array<Int8>,
        resolution -> Text,
        created_at -> Timestamptz,
        opened_at -> Timestamptz,
        taken_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        closed_by -> Nullable<Int8>,
        last_message_at -> Timestamptz,
        visitor_id -> Nullable<Text>,
    }
}

diesel::table! {
    web_origins (id) {
        id -> Int8,
        origin -> Text,
        added_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    web_visitors (visitor_id) {
        visitor_id -> Text,
        contact_id -> Nullable<Int8>,
        linked_at -> Timestamptz,
    }
}

diesel::table! {
    page_views (id) {
        id -> Int8,
        visitor_id -> Text,
        contact_id -> Nullable<Int8>,
        origin -> Text,
        url -> Text,
        title -> Text,
        referrer -> Text,
        viewed_at -> Timestamptz,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    enquiry_messages (id) {
        id -> Int8,
        enquiry_id -> Int8,
        staff_id -> Nullable<Int8>,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    enquiry_events (id) {
        id -> Int8,
        enquiry_id -> Int8,
        kind -> Text,
        staff_id -> Nullable<Int8>,
        to_staff -> Nullable<Int8>,
        note -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    support_submissions (id) {
        id -> Int8,
        client -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ownership_transfers (id) {
        id -> Int8,
        from_staff -> Int8,
        to_staff -> Nullable<Int8>,
        requested_by -> Nullable<Int8>,
        status -> Text,
        total -> Int8,
        moved -> Int8,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(contact_changes -> contacts (contact_id));
diesel::joinable!(contact_changes -> staff (staff_id));
diesel::joinable!(contact_emails -> contacts (contact_id));
diesel::joinable!(contact_labels -> contacts (contact_id));
diesel::joinable!(contact_labels -> labels (label_id));
diesel::joinable!(contact_phones -> contacts (contact_id));
diesel::joinable!(contact_socials -> contacts (contact_id));
diesel::joinable!(custom_field_values -> contacts (contact_id));
diesel::joinable!(custom_field_values -> custom_fields (field_id));
diesel::joinable!(enquiries -> contacts (contact_id));
diesel::joinable!(enquiry_messages -> enquiries (enquiry_id));
diesel::joinable!(enquiry_events -> enquiries (enquiry_id));
diesel::joinable!(exports -> staff (staff_id));
diesel::joinable!(import_errors -> imports (import_id));
diesel::joinable!(notes -> contacts (contact_id));
diesel::joinable!(notes -> staff (author_id));
diesel::joinable!(import_matches -> imports (import_id));
diesel::joinable!(sessions -> staff (staff_id));
diesel::joinable!(staff_avatars -> staff (staff_id));

diesel::allow_tables_to_appear_in_same_query!(
    bulk_jobs,
    contact_changes,
    contact_emails,
    contact_labels,
    contact_phones,
    contact_shares,
    contact_socials,
    contacts,
    custom_field_values,
    custom_fields,
    enquiries,
    enquiry_events,
    enquiry_messages,
    exports,
    import_errors,
    import_matches,
    imports,
    labels,
    login_attempts,
    merge_moves,
    merges,
    notes,
    ownership_transfers,
    page_views,
    sessions,
    settings,
    staff,
    staff_avatars,
    support_submissions,
    web_origins,
    web_visitors,
);
