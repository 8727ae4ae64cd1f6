//! Diesel table definitions, written to match `migrations/*/…_initial/up.sql`.
#![allow(missing_docs)]

diesel::table! {
    instances (id) {
        id -> BigInt,
        domain -> Text,
        software -> Nullable<Text>,
        software_version -> Nullable<Text>,
        nodeinfo_fetched_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_failure_at -> Nullable<Timestamp>,
        failure_count -> Integer,
        unreachable_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    actors (id) {
        id -> BigInt,
        kind -> Text,
        username -> Text,
        username_key -> Text,
        domain -> Nullable<Text>,
        instance_id -> Nullable<BigInt>,
        ap_id -> Text,
        url -> Nullable<Text>,
        inbox_url -> Text,
        shared_inbox_url -> Nullable<Text>,
        outbox_url -> Nullable<Text>,
        followers_url -> Nullable<Text>,
        following_url -> Nullable<Text>,
        display_name -> Text,
        summary -> Text,
        fields_json -> Text,
        avatar_url -> Nullable<Text>,
        header_url -> Nullable<Text>,
        public_key_id -> Nullable<Text>,
        public_key_pem -> Nullable<Text>,
        manually_approves_followers -> Bool,
        discoverable -> Bool,
        bot -> Bool,
        moved_to_ap_id -> Nullable<Text>,
        published_at -> Nullable<Timestamp>,
        last_fetched_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        members_only -> Bool,
        limited -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        actor_id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        approved -> Bool,
        disabled -> Bool,
        locale -> Nullable<Text>,
        last_sign_in_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sign_up_reason -> Nullable<Text>,
        default_visibility -> Text,
        default_sensitive -> Bool,
        default_language -> Nullable<Text>,
        event_reminders -> Text,
        calendar_token_hash -> Nullable<Text>,
        email_confirmed_at -> Nullable<Timestamp>,
        mail_mentions -> Bool,
        mail_follow_requests -> Bool,
        mail_reports -> Bool,
        mail_event_reminders -> Bool,
        account_mail_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    actor_keys (actor_id) {
        actor_id -> BigInt,
        private_key_pem -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    groups (actor_id) {
        actor_id -> BigInt,
        owner_id -> BigInt,
        membership -> Text,
        posting -> Text,
        visibility -> Text,
        rules_json -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    statuses (id) {
        id -> BigInt,
        ap_id -> Text,
        url -> Nullable<Text>,
        actor_id -> BigInt,
        local -> Bool,
        kind -> Text,
        in_reply_to_id -> Nullable<BigInt>,
        in_reply_to_ap_id -> Nullable<Text>,
        in_reply_to_actor_id -> Nullable<BigInt>,
        reblog_of_id -> Nullable<BigInt>,
        group_id -> Nullable<BigInt>,
        visibility -> Text,
        title -> Nullable<Text>,
        content -> Text,
        source -> Nullable<Text>,
        spoiler_text -> Text,
        sensitive -> Bool,
        language -> Nullable<Text>,
        published_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_mail_posts (status_id) {
        status_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mail_secret (id) {
        id -> Integer,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_mail_subscriptions (id) {
        id -> BigInt,
        group_id -> BigInt,
        actor_id -> Nullable<BigInt>,
        email -> Nullable<Text>,
        mode -> Text,
        timezone -> Text,
        hour -> Integer,
        confirmed_at -> Nullable<Timestamp>,
        digest_through -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    follows (id) {
        id -> BigInt,
        follower_id -> BigInt,
        target_id -> BigInt,
        state -> Text,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        notify -> Bool,
        show_reblogs -> Bool,
    }
}

diesel::table! {
    outbox_activities (id) {
        id -> BigInt,
        ap_id -> Text,
        actor_id -> BigInt,
        kind -> Text,
        json -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        queue -> Text,
        payload -> Text,
        partition_key -> Nullable<Text>,
        run_at -> Timestamp,
        attempts -> Integer,
        max_attempts -> Integer,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        failed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    received_activities (ap_id) {
        ap_id -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(users -> actors (actor_id));
diesel::joinable!(actor_keys -> actors (actor_id));
diesel::joinable!(actors -> instances (instance_id));
diesel::joinable!(outbox_activities -> actors (actor_id));

diesel::table! {
    favourites (id) {
        id -> BigInt,
        actor_id -> BigInt,
        status_id -> BigInt,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    blocks (id) {
        id -> BigInt,
        actor_id -> BigInt,
        target_id -> BigInt,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    status_mentions (status_id, actor_id) {
        status_id -> BigInt,
        actor_id -> BigInt,
    }
}

diesel::table! {
    status_tags (status_id, tag) {
        status_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    media_attachments (id) {
        id -> BigInt,
        status_id -> Nullable<BigInt>,
        actor_id -> BigInt,
        remote_url -> Nullable<Text>,
        file_path -> Nullable<Text>,
        media_type -> Nullable<Text>,
        description -> Nullable<Text>,
        blurhash -> Nullable<Text>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        position -> Integer,
        created_at -> Timestamp,
        preview_path -> Nullable<Text>,
        preview_width -> Nullable<Integer>,
        preview_height -> Nullable<Integer>,
        file_size -> Nullable<BigInt>,
        focus -> Nullable<Text>,
        scheduled_status_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        ap_id -> Nullable<Text>,
        reporter_id -> BigInt,
        target_id -> BigInt,
        status_ids_json -> Text,
        comment -> Text,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_apps (id) {
        id -> BigInt,
        name -> Text,
        website -> Nullable<Text>,
        redirect_uris -> Text,
        scopes -> Text,
        client_id -> Text,
        client_secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        app_id -> BigInt,
        user_id -> Nullable<BigInt>,
        scopes -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_codes (code_hash) {
        code_hash -> Text,
        app_id -> BigInt,
        user_id -> BigInt,
        redirect_uri -> Text,
        scopes -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        recipient_id -> BigInt,
        kind -> Text,
        from_actor_id -> BigInt,
        status_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        group_key -> Nullable<Text>,
        filtered -> Bool,
    }
}

diesel::table! {
    bookmarks (actor_id, status_id) {
        actor_id -> BigInt,
        status_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        status_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_moderators (group_id, actor_id) {
        group_id -> BigInt,
        actor_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_bans (group_id, actor_id) {
        group_id -> BigInt,
        actor_id -> BigInt,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_invitations (group_id, actor_id) {
        group_id -> BigInt,
        actor_id -> BigInt,
        invited_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_log (id) {
        id -> BigInt,
        group_id -> BigInt,
        moderator_id -> BigInt,
        action -> Text,
        target_actor_id -> Nullable<BigInt>,
        target_status_id -> Nullable<BigInt>,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    markers (user_id, timeline) {
        user_id -> BigInt,
        timeline -> Text,
        last_read_id -> BigInt,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mutes (actor_id, target_id) {
        actor_id -> BigInt,
        target_id -> BigInt,
        notifications -> Bool,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lists (id) {
        id -> BigInt,
        owner_id -> BigInt,
        title -> Text,
        replies_policy -> Text,
        exclusive -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    list_members (list_id, actor_id) {
        list_id -> BigInt,
        actor_id -> BigInt,
    }
}

diesel::table! {
    followed_tags (actor_id, tag) {
        actor_id -> BigInt,
        tag -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    filters (id) {
        id -> BigInt,
        owner_id -> BigInt,
        title -> Text,
        contexts -> Text,
        action -> Text,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    filter_keywords (id) {
        id -> BigInt,
        filter_id -> BigInt,
        keyword -> Text,
        whole_word -> Bool,
    }
}

diesel::table! {
    filter_statuses (id) {
        id -> BigInt,
        filter_id -> BigInt,
        status_id -> BigInt,
    }
}

diesel::table! {
    status_edits (id) {
        id -> BigInt,
        status_id -> BigInt,
        content -> Text,
        spoiler_text -> Text,
        sensitive -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    pins (actor_id, status_id) {
        actor_id -> BigInt,
        status_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    polls (status_id) {
        status_id -> BigInt,
        multiple -> Bool,
        voters_count -> BigInt,
        expires_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        notified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    poll_options (status_id, position) {
        status_id -> BigInt,
        position -> Integer,
        title -> Text,
        votes_count -> BigInt,
    }
}

diesel::table! {
    poll_votes (status_id, actor_id, choice) {
        status_id -> BigInt,
        actor_id -> BigInt,
        choice -> Integer,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scheduled_statuses (id) {
        id -> BigInt,
        actor_id -> BigInt,
        scheduled_at -> Timestamp,
        params_json -> Text,
        job_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    account_notes (actor_id, target_id) {
        actor_id -> BigInt,
        target_id -> BigInt,
        comment -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    conversation_mutes (actor_id, root_id) {
        actor_id -> BigInt,
        root_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_domain_blocks (actor_id, domain) {
        actor_id -> BigInt,
        domain -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_policies (actor_id) {
        actor_id -> BigInt,
        for_not_following -> Text,
        for_not_followers -> Text,
        for_new_accounts -> Text,
        for_private_mentions -> Text,
        for_limited_accounts -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_permissions (actor_id, from_actor_id) {
        actor_id -> BigInt,
        from_actor_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        user_agent -> Text,
        ip -> Text,
        remember -> Bool,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    instance_domain_blocks (domain) {
        domain -> Text,
        severity -> Text,
        reject_media -> Bool,
        public_comment -> Text,
        private_comment -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    admin_log (id) {
        id -> BigInt,
        admin_id -> Nullable<BigInt>,
        action -> Text,
        target -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    instance_settings (id) {
        id -> Integer,
        title -> Text,
        description -> Text,
        rules_json -> Text,
        contact_email -> Text,
        registrations -> Nullable<Text>,
        allowlist -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    instance_allowed_domains (domain) {
        domain -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_report_closures (group_id, report_id) {
        group_id -> BigInt,
        report_id -> BigInt,
        moderator_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (status_id) {
        status_id -> BigInt,
        name -> Text,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        timezone -> Nullable<Text>,
        place_name -> Nullable<Text>,
        street -> Nullable<Text>,
        locality -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        online_url -> Nullable<Text>,
        capacity -> Nullable<Integer>,
        join_mode -> Text,
        external_url -> Nullable<Text>,
        event_status -> Text,
        category -> Nullable<Text>,
        remote_participants -> Nullable<Integer>,
        remote_remaining -> Nullable<Integer>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    event_participants (id) {
        id -> BigInt,
        event_id -> BigInt,
        actor_id -> BigInt,
        state -> Text,
        message -> Nullable<Text>,
        ap_id -> Nullable<Text>,
        listed -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    event_reminders_sent (participant_id, minutes_before, starts_at) {
        participant_id -> BigInt,
        minutes_before -> Integer,
        starts_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    discussion_hours (id) {
        id -> BigInt,
        group_id -> BigInt,
        title -> Text,
        hashtag -> Text,
        rrule -> Text,
        dtstart -> Timestamp,
        timezone -> Text,
        duration_minutes -> Integer,
        intro -> Text,
        prompts -> Text,
        host_id -> Nullable<BigInt>,
        created_by -> Nullable<BigInt>,
        cancelled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    hour_editions (id) {
        id -> BigInt,
        hour_id -> BigInt,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        host_id -> Nullable<BigInt>,
        intro_status_id -> Nullable<BigInt>,
        recap_status_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    hour_prompts (edition_id, number) {
        edition_id -> BigInt,
        number -> Integer,
        status_id -> BigInt,
    }
}

diesel::table! {
    hour_participants (hour_id, actor_id) {
        hour_id -> BigInt,
        actor_id -> BigInt,
        first_edition_id -> BigInt,
    }
}

diesel::joinable!(events -> statuses (status_id));
diesel::joinable!(event_participants -> actors (actor_id));
diesel::joinable!(hour_editions -> discussion_hours (hour_id));
diesel::joinable!(hour_prompts -> hour_editions (edition_id));

diesel::table! {
    home_feed (owner_id, status_id) {
        owner_id -> BigInt,
        status_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    home_feed,
    instance_allowed_domains,
    group_report_closures,
    instance_settings,
    mail_secret,
    group_mail_subscriptions,
    group_mail_posts,
    instance_domain_blocks,
    admin_log,
    web_sessions,
    events,
    event_participants,
    event_reminders_sent,
    discussion_hours,
    hour_editions,
    hour_prompts,
    hour_participants,
    markers,
    mutes,
    lists,
    list_members,
    followed_tags,
    filters,
    filter_keywords,
    filter_statuses,
    status_edits,
    pins,
    group_moderators,
    group_bans,
    group_invitations,
    group_log,
    oauth_apps,
    oauth_tokens,
    oauth_codes,
    notifications,
    bookmarks,
    idempotency_keys,
    instances,
    actors,
    users,
    actor_keys,
    groups,
    statuses,
    follows,
    outbox_activities,
    jobs,
    received_activities,
    favourites,
    blocks,
    status_mentions,
    status_tags,
    media_attachments,
    reports,
    polls,
    poll_options,
    poll_votes,
    scheduled_statuses,
    account_notes,
    conversation_mutes,
    user_domain_blocks,
    notification_policies,
    notification_permissions,
);
