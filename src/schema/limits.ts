import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

function fragmentsOf(context: ValidationContext): Fragments {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) map.set(definition.name.value, definition);
  }
  return map;
}

/** Deepest field nesting, through fragments (a fragment cycle counts once; graphql reports cycles itself). */
function depthOf(set: SelectionSetNode, fragments: Fragments, seen: ReadonlySet<string>): number {
  let deepest = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      deepest = Math.max(deepest, 1 + (selection.selectionSet ? depthOf(selection.selectionSet, fragments, seen) : 0));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, depthOf(selection.selectionSet, fragments, seen));
    } else {
      const fragment = fragments.get(selection.name.value);
      if (fragment && !seen.has(fragment.name.value)) {
        deepest = Math.max(deepest, depthOf(fragment.selectionSet, fragments, new Set([...seen, fragment.name.value])));
      }
    }
  }
  return deepest;
}

/** Fields selected at the root (every alias counts), through fragments. */
function rootFieldsOf(set: SelectionSetNode, fragments: Fragments, seen: ReadonlySet<string>): number {
  let count = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) count++;
    else if (selection.kind === Kind.INLINE_FRAGMENT) count += rootFieldsOf(selection.selectionSet, fragments, seen);
    else {
      const fragment = fragments.get(selection.name.value);
      if (fragment && !seen.has(fragment.name.value)) {
        count += rootFieldsOf(fragment.selectionSet, fragments, new Set([...seen, fragment.name.value]));
      }
    }
  }
  return count;
}

/** Validation rules bounding what one operation can cost, before anything runs. */
export function limitRules(limits: { queryDepth: number; rootFields: number }): ValidationRule[] {
  const rule = (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context);
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, fragments, new Set());
        if (depth > limits.queryDepth) {
          context.reportError(
            new GraphQLError(`The operation is nested ${depth} levels deep; at most ${limits.queryDepth} are allowed (MAX_QUERY_DEPTH).`, { nodes: [node] }),
          );
        }
        const roots = rootFieldsOf(node.selectionSet, fragments, new Set());
        if (roots > limits.rootFields) {
          context.reportError(
            new GraphQLError(`The operation selects ${roots} root fields (aliases included); at most ${limits.rootFields} are allowed (MAX_ROOT_FIELDS).`, {
              nodes: [node],
            }),
          );
        }
      },
    };
  };
  return [rule];
}
