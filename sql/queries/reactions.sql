-- name: add_reaction(message_id, emoji, user_id)$
-- Record one user's reaction (clock time, for first-reaction order); NULL when already there.
INSERT INTO message_reactions (message_id, emoji, user_id, created_at)
VALUES (:message_id, :emoji, :user_id, clock_timestamp())
ON CONFLICT DO NOTHING
RETURNING true;

-- name: remove_reaction(message_id, emoji, user_id)$
-- Take one user's reaction back; NULL when there was none.
DELETE FROM message_reactions
WHERE message_id = :message_id AND emoji = :emoji AND user_id = :user_id
RETURNING true;

-- name: recompute_reactions(message_id, max_user_ids)$
-- The message's denormalised reactions [{emoji, count, userIds}] from message_reactions, in
-- first-reaction order, with the first :max_user_ids reactors of each emoji; returns how
-- many different emoji it carries (the per-message cap).
UPDATE messages SET reactions = coalesce((
    SELECT jsonb_agg(
               jsonb_build_object('emoji', r.emoji, 'count', r.n, 'userIds', to_jsonb(r.user_ids))
               ORDER BY r.first_at, r.emoji)
    FROM (
        SELECT emoji, count(*) AS n, min(created_at) AS first_at,
               (array_agg(user_id::text ORDER BY created_at, user_id))[1:(:max_user_ids)] AS user_ids
        FROM message_reactions WHERE message_id = :message_id
        GROUP BY emoji
    ) r
), '[]'::jsonb)
WHERE id = :message_id
RETURNING jsonb_array_length(reactions);
