import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface OperationLimits {
  queryDepth: number;
  rootFields: number;
  selections: number;
}

/** What one selection set costs once every fragment in it is expanded. */
export interface SelectionCost {
  /** Deepest field nesting. */
  depth: number;
  /** Fields directly at this level (aliases and fragments' fields included). */
  fields: number;
  /** Every field at every level, each `sdl` weighted by SDL_WEIGHT. */
  selections: number;
}

/**
 * `_service { sdl }` answers the whole schema text (kilobytes): each selection of it weighs as much
 * as this many ordinary fields, so aliasing it thousands of times stays under MAX_SELECTIONS.
 */
export const SDL_WEIGHT = 100;

const NONE: SelectionCost = { depth: 0, fields: 0, selections: 0 };

/**
 * Costs the selection sets of one document, computing each fragment once (memoised), so the work is
 * linear in the document's size even when fragments spread each other many times. A fragment found
 * in a cycle costs nothing here (graphql's NoFragmentCycles rule reports the cycle); counts that
 * would overflow saturate at Infinity, which is over any limit.
 */
export class SelectionCoster {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly costs = new Map<string, SelectionCost>();
  private readonly inProgress = new Set<string>();
  /** Selection sets walked so far: a measure of work, for tests. */
  walked = 0;

  constructor(document: DocumentNode) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  cost(set: SelectionSetNode): SelectionCost {
    this.walked++;
    let depth = 0;
    let fields = 0;
    let selections = 0;
    for (const selection of set.selections) {
      let inner: SelectionCost;
      if (selection.kind === Kind.FIELD) {
        const below = selection.selectionSet ? this.cost(selection.selectionSet) : NONE;
        inner = {
          depth: 1 + below.depth,
          fields: 1,
          selections: (selection.name.value === 'sdl' ? SDL_WEIGHT : 1) + below.selections,
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = this.cost(selection.selectionSet);
      } else {
        inner = this.fragmentCost(selection.name.value);
      }
      depth = Math.max(depth, inner.depth);
      fields += inner.fields;
      selections += inner.selections;
    }
    return { depth, fields, selections };
  }

  private fragmentCost(name: string): SelectionCost {
    const known = this.costs.get(name);
    if (known) return known;
    const fragment = this.fragments.get(name);
    if (!fragment || this.inProgress.has(name)) return NONE;
    this.inProgress.add(name);
    const cost = this.cost(fragment.selectionSet);
    this.inProgress.delete(name);
    this.costs.set(name, cost);
    return cost;
  }
}

/** Validation rules bounding what one operation can cost, before anything runs. */
export function limitRules(limits: OperationLimits): ValidationRule[] {
  const rule = (context: ValidationContext): ASTVisitor => {
    const coster = new SelectionCoster(context.getDocument());
    const refuse = (message: string, node: OperationDefinitionNode) => context.reportError(new GraphQLError(message, { nodes: [node] }));
    return {
      OperationDefinition(node) {
        const { depth, fields, selections } = coster.cost(node.selectionSet);
        if (depth > limits.queryDepth) {
          refuse(`The operation is nested ${depth} levels deep; at most ${limits.queryDepth} are allowed (MAX_QUERY_DEPTH).`, node);
        }
        if (fields > limits.rootFields) {
          refuse(`The operation selects ${fields} root fields (aliases included); at most ${limits.rootFields} are allowed (MAX_ROOT_FIELDS).`, node);
        }
        if (selections > limits.selections) {
          refuse(
            `The operation selects ${selections} fields once fragments are expanded (aliases included, \`sdl\` weighs ${SDL_WEIGHT}); at most ${limits.selections} are allowed (MAX_SELECTIONS).`,
            node,
          );
        }
      },
    };
  };
  return [rule];
}
