/** The README's example operations, one playground tab each. */
export const PLAYGROUND_EXAMPLES: ReadonlyArray<{ query: string; variables?: string }> = [
  {
    query: `# One user. Run with ▶ (or Ctrl-Enter); the docs explorer (book icon) lists every field.
query OneUser {
  instagramUser(id: "1784140000000001") {
    id
    name
    username
    profilePic
    avatarUrl
    followerCount
    isUserFollowBusiness
    isBusinessFollowUser
    isVerifiedUser
    fetchedAt
  }
}
`,
  },
  {
    query: `# Order and repeats are kept; a failed id is null at its index with its own error.
query SeveralUsers {
  instagramUsers(ids: ["1784140000000001", "99900001", "1784140000000001"]) {
    id
    username
  }
}
`,
  },
  {
    query: `# A user who has not messaged the business yet: null, with extensions.code CONSENT_REQUIRED.
query ConsentRequired {
  instagramUser(id: "99900001") {
    id
    username
  }
}
`,
  },
  {
    query: `# Not an IGSID: BAD_USER_INPUT, and nothing is sent to Meta.
query BadInput {
  instagramUser(id: "not-an-id") {
    id
  }
}
`,
  },
];
